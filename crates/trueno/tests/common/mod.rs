//! What the GPU test files share: one context on whatever adapter exists
//! (software allowed), or a printed reason to skip — a failure instead when
//! `TRUENO_REQUIRE_GPU=1` (CI).

use std::sync::OnceLock;

use trueno::gpu::{GpuContext, GpuOptions};

pub fn gpu() -> Option<&'static GpuContext> {
    static CTX: OnceLock<Option<GpuContext>> = OnceLock::new();
    CTX.get_or_init(|| {
        match GpuContext::new(GpuOptions {
            allow_software: true,
            adapter_name: None,
        }) {
            Ok(c) => {
                let kind = if c.is_software() {
                    "software"
                } else {
                    "hardware"
                };
                eprintln!("GPU tests run on {} ({kind})", c.adapter_name());
                Some(c)
            }
            Err(e) if std::env::var("TRUENO_REQUIRE_GPU").is_ok_and(|v| v == "1") => {
                panic!("TRUENO_REQUIRE_GPU=1 but no GPU adapter could be opened: {e}")
            }
            Err(e) => {
                eprintln!("skipping GPU tests: {e}");
                None
            }
        }
    })
    .as_ref()
}
