//! Start-up wiring: from `[serve]` to a running [`ServerState`]: the engine's
//! worker pools, the model directory, and for `primary = "auto"` the cost
//! profile and a GPU probe.

use realizar::registry::{self, LoadReport};
use realizar::{BackendConfig, Engine, EngineError};
use trueno::Backend;

use crate::ServerState;
use crate::config::{Primary, ServeConfig};
use crate::route::RoutePolicy;
use crate::select::{BackendSelector, CostModel, Profile};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The engine could not start its backends.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The model directory could not be read.
    #[error(transparent)]
    Models(#[from] aprender::AprenderError),
    /// The cost profile for `primary = "auto"` is unusable.
    #[error(transparent)]
    Profile(#[from] crate::select::ProfileError),
}

impl ServerState {
    /// Starts the engine for `serve` and loads every model in its `model_dir`;
    /// bad model files are skipped and listed in the report.
    pub fn from_config(serve: &ServeConfig) -> Result<(ServerState, LoadReport), StartError> {
        let mut pools: Vec<BackendConfig> = serve
            .backends
            .iter()
            .map(|(&backend, s)| {
                BackendConfig::new(backend, s.capacity, s.workers)
                    .with_batching(s.max_batch_size, s.max_batch_delay)
            })
            .collect();
        let selector = match serve.primary {
            Primary::Auto => Some(auto_selector(serve, &mut pools)?),
            Primary::Fixed(_) => None,
        };
        let engine = Engine::new(&pools)?;
        let report = registry::load_dir(&engine, &serve.model_dir)?;
        let policy = RoutePolicy {
            primary: serve.primary,
            spillover: serve.spillover,
            spill: serve.spill,
            limits: serve.circuit_breaker,
            selector,
        };
        Ok((ServerState::new(engine, policy)?, report))
    }
}

/// The selector for `primary = "auto"`: the configured profile, else the one
/// `batuta calibrate` wrote if it exists. A GPU that opens joins the pools
/// (with its configured or default settings); the selector considers it
/// only when the profile measured one.
fn auto_selector(
    serve: &ServeConfig,
    pools: &mut Vec<BackendConfig>,
) -> Result<BackendSelector, StartError> {
    let path = serve
        .profile
        .clone()
        .or_else(Profile::default_path)
        .filter(|p| serve.profile.is_some() || p.exists());
    let mut s = BackendSelector::new()
        .with_cost_model(CostModel::Gregg5x)
        .with_load_balancing(true);
    if let Some(p) = path {
        s = s.with_profile(Profile::load(&p)?);
    }
    let gpu_ok = trueno::gpu::GpuContext::shared().is_ok();
    if gpu_ok && !pools.iter().any(|p| p.backend == Backend::Gpu) {
        let d = serve
            .backends
            .get(&Backend::Gpu)
            .copied()
            .unwrap_or_default();
        pools.push(BackendConfig::new(Backend::Gpu, d.capacity, d.workers));
    }
    let measured_gpu = s.profile().is_some_and(|p| p.gpu.is_some());
    Ok(s.with_gpu(gpu_ok && measured_gpu))
}
