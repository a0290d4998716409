//! The GPU context: adapter choice, device, pipeline cache, transfers and dispatch.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use super::pool::{Pool, Pooled};
use super::{GpuError, GpuTensor, Timings};

/// How to pick an adapter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GpuOptions {
    /// Accept a software (CPU) adapter such as lavapipe when no GPU exists.
    pub allow_software: bool,
    /// Only adapters whose name contains this text (case-insensitive).
    pub adapter_name: Option<String>,
}

impl GpuOptions {
    /// `TRUENO_ALLOW_SOFTWARE_GPU=1` allows software; `TRUENO_GPU_ADAPTER`
    /// narrows the adapter by name.
    pub fn from_env() -> GpuOptions {
        GpuOptions {
            allow_software: std::env::var("TRUENO_ALLOW_SOFTWARE_GPU").is_ok_and(|v| v == "1"),
            adapter_name: std::env::var("TRUENO_GPU_ADAPTER")
                .ok()
                .filter(|s| !s.is_empty()),
        }
    }
}

/// The WGSL sources, embedded at build time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Shader {
    Elementwise,
    Reduce,
    Softmax,
    Matvec,
    Matmul,
    Sequence,
}

impl Shader {
    fn source(self) -> &'static str {
        match self {
            Shader::Elementwise => include_str!("../../../../shaders/elementwise.wgsl"),
            Shader::Reduce => include_str!("../../../../shaders/reduce.wgsl"),
            Shader::Softmax => include_str!("../../../../shaders/softmax.wgsl"),
            Shader::Matvec => include_str!("../../../../shaders/matvec.wgsl"),
            Shader::Matmul => include_str!("../../../../shaders/matmul.wgsl"),
            Shader::Sequence => include_str!("../../../../shaders/sequence.wgsl"),
        }
    }
}

struct Inner {
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    pipelines: Mutex<HashMap<(Shader, &'static str), wgpu::ComputePipeline>>,
    pool: Arc<Pool>,
    lost: Arc<Mutex<Option<String>>>,
    failed: Arc<AtomicBool>,
}

/// A GPU device ready to run trueno's kernels; cheap to clone and shareable.
#[derive(Clone)]
pub struct GpuContext {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for GpuContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuContext")
            .field("adapter", &self.inner.info.name)
            .field("device_type", &self.inner.info.device_type)
            .finish()
    }
}

/// Lower is preferred: discrete first, software last.
fn rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

impl GpuContext {
    /// Opens the best adapter the options allow: a discrete GPU, else an
    /// integrated one, else (if allowed) a software one.
    pub fn new(opts: GpuOptions) -> Result<GpuContext, GpuError> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
        let mut adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
        if let Some(want) = &opts.adapter_name {
            let want = want.to_lowercase();
            adapters.retain(|a| a.get_info().name.to_lowercase().contains(&want));
        }
        adapters.sort_by_key(|a| {
            let info = a.get_info();
            (rank(info.device_type), info.name)
        });
        let adapter = adapters.into_iter().next().ok_or(GpuError::NoAdapter)?;
        let info = adapter.get_info();
        if info.device_type == wgpu::DeviceType::Cpu && !opts.allow_software {
            return Err(GpuError::SoftwareOnly(info.name));
        }
        // Ask for everything the adapter offers: large models need large buffers.
        let limits = adapter.limits();
        let desc = wgpu::DeviceDescriptor {
            label: Some("trueno"),
            required_limits: limits.clone(),
            ..Default::default()
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&desc))
            .map_err(|e| GpuError::Device(e.to_string()))?;
        let failed = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&failed);
        // The default handler panics; errors are caught by scopes, anything else is logged.
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            flag.store(true, Ordering::Release);
            tracing::error!(error = %e, "uncaptured wgpu error");
        }));
        let lost = Arc::new(Mutex::new(None));
        let sink = Arc::clone(&lost);
        device.set_device_lost_callback(move |reason, message| {
            *sink.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(format!("{reason:?}: {message}"));
        });
        tracing::debug!(adapter = %info.name, kind = ?info.device_type, "GPU context ready");
        let inner = Inner {
            device,
            queue,
            info,
            limits,
            pipelines: Mutex::new(HashMap::new()),
            pool: Arc::new(Pool::default()),
            lost,
            failed,
        };
        Ok(GpuContext {
            inner: Arc::new(inner),
        })
    }

    /// The process-wide context, opened on first use with [`GpuOptions::from_env`].
    pub fn shared() -> Result<&'static GpuContext, GpuError> {
        static SHARED: OnceLock<Result<GpuContext, GpuError>> = OnceLock::new();
        SHARED
            .get_or_init(|| GpuContext::new(GpuOptions::from_env()))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The adapter's name, as the driver reports it.
    pub fn adapter_name(&self) -> &str {
        &self.inner.info.name
    }

    /// Whether this is a software rasteriser rather than a GPU.
    pub fn is_software(&self) -> bool {
        self.inner.info.device_type == wgpu::DeviceType::Cpu
    }

    /// The device's limits (as granted: everything the adapter offers).
    pub fn limits(&self) -> &wgpu::Limits {
        &self.inner.limits
    }

    fn check_alive(&self) -> Result<(), GpuError> {
        if let Some(reason) = self
            .inner
            .lost
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return Err(GpuError::DeviceLost(reason));
        }
        Ok(())
    }

    /// A buffer of at least `bytes` from the pool, or a new one.
    pub(crate) fn alloc(&self, bytes: u64, usage: wgpu::BufferUsages) -> Result<Pooled, GpuError> {
        self.check_alive()?;
        let class = Pool::class(bytes);
        if class > self.inner.limits.max_buffer_size {
            return Err(GpuError::TooLarge(format!("a buffer of {bytes} bytes")));
        }
        let buffer = match self.inner.pool.take(class, usage) {
            Some(b) => b,
            None => {
                let scope = self
                    .inner
                    .device
                    .push_error_scope(wgpu::ErrorFilter::OutOfMemory);
                let b = self.inner.device.create_buffer(&wgpu::BufferDescriptor {
                    label: None,
                    size: class,
                    usage,
                    mapped_at_creation: false,
                });
                if pollster::block_on(scope.pop()).is_some() {
                    return Err(GpuError::OutOfMemory { bytes: class });
                }
                b
            }
        };
        Ok(Pooled {
            buffer: Some(buffer),
            pool: Arc::clone(&self.inner.pool),
        })
    }

    /// A device tensor of `len` elements whose contents are unspecified (every
    /// kernel writes all of its output).
    pub(crate) fn output(&self, len: usize) -> Result<GpuTensor, GpuError> {
        let usage = wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST;
        Ok(GpuTensor {
            buf: self.alloc(4 * len as u64, usage)?,
            len,
        })
    }

    /// Copies host data into a new device tensor (queued; ordered before any
    /// later operation on the queue).
    pub fn upload(&self, data: &[f32]) -> Result<GpuTensor, GpuError> {
        self.upload_bytes(bytemuck::cast_slice(data))
    }

    /// Copies indices into a new device tensor of `data.len()` 4-byte
    /// elements, for the kernels that take a `u32` index binding.
    pub fn upload_u32(&self, data: &[u32]) -> Result<GpuTensor, GpuError> {
        self.upload_bytes(bytemuck::cast_slice(data))
    }

    fn upload_bytes(&self, bytes: &[u8]) -> Result<GpuTensor, GpuError> {
        let t = self.output(bytes.len() / 4)?;
        if !bytes.is_empty() {
            self.inner.queue.write_buffer(t.buffer(), 0, bytes);
        }
        Ok(t)
    }

    /// Waits for everything queued so far to finish.
    pub fn sync(&self) -> Result<(), GpuError> {
        self.check_alive()?;
        self.inner.queue.submit(std::iter::empty());
        self.inner
            .device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| GpuError::DeviceLost(e.to_string()))?;
        if self.inner.failed.swap(false, Ordering::AcqRel) {
            return Err(GpuError::Internal(
                "wgpu reported an error; see the log".into(),
            ));
        }
        self.check_alive()
    }

    /// Copies a device tensor back to the host (waits for pending work).
    pub fn download(&self, t: &GpuTensor) -> Result<Vec<f32>, GpuError> {
        if t.len == 0 {
            return Ok(Vec::new());
        }
        let bytes = 4 * t.len as u64;
        let staging = self.alloc(
            bytes,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        )?;
        let mut enc = self
            .inner
            .device
            .create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(t.buffer(), 0, staging.get(), 0, bytes);
        self.inner.queue.submit([enc.finish()]);
        let slice = staging.get().slice(..bytes);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.sync()?;
        match rx.recv() {
            Ok(Ok(())) => {}
            _ => {
                return Err(GpuError::Internal(
                    "mapping the read-back buffer failed".into(),
                ));
            }
        }
        let out = {
            let view = slice
                .get_mapped_range()
                .map_err(|e| GpuError::Internal(e.to_string()))?;
            bytemuck::pod_collect_to_vec::<u8, f32>(&view)
        };
        staging.get().unmap();
        Ok(out)
    }

    fn pipeline(&self, shader: Shader, entry: &'static str) -> wgpu::ComputePipeline {
        let mut cache = self
            .inner
            .pipelines
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        cache
            .entry((shader, entry))
            .or_insert_with(|| {
                let module = self
                    .inner
                    .device
                    .create_shader_module(wgpu::ShaderModuleDescriptor {
                        label: Some(entry),
                        source: wgpu::ShaderSource::Wgsl(shader.source().into()),
                    });
                self.inner
                    .device
                    .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                        label: Some(entry),
                        layout: None,
                        module: &module,
                        entry_point: Some(entry),
                        compilation_options: Default::default(),
                        cache: None,
                    })
            })
            .clone()
    }

    /// Queues one dispatch: `bindings` are (binding index, buffer), `params`
    /// fill the uniform at binding 3, `groups` is the (x, y) grid.
    pub(crate) fn dispatch(
        &self,
        shader: Shader,
        entry: &'static str,
        bindings: &[(u32, &wgpu::Buffer)],
        params: [u32; 4],
        groups: (u32, u32),
    ) -> Result<(), GpuError> {
        let uniform = self.alloc(
            16,
            wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        )?;
        self.inner
            .queue
            .write_buffer(uniform.get(), 0, bytemuck::cast_slice(&params));
        let pipeline = self.pipeline(shader, entry);
        let mut entries: Vec<wgpu::BindGroupEntry> = bindings
            .iter()
            .map(|&(binding, b)| wgpu::BindGroupEntry {
                binding,
                resource: b.as_entire_binding(),
            })
            .collect();
        entries.push(wgpu::BindGroupEntry {
            binding: 3,
            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: uniform.get(),
                offset: 0,
                size: wgpu::BufferSize::new(16),
            }),
        });
        let bind = self
            .inner
            .device
            .create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(entry),
                layout: &pipeline.get_bind_group_layout(0),
                entries: &entries,
            });
        let mut enc = self
            .inner
            .device
            .create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &bind, &[]);
            pass.dispatch_workgroups(groups.0, groups.1, 1);
        }
        self.inner.queue.submit([enc.finish()]);
        Ok(())
    }

    /// A grid of `groups` workgroups within the per-dimension limit.
    pub(crate) fn grid(&self, groups: u64, what: &str) -> Result<(u32, u32), GpuError> {
        let max = u64::from(self.inner.limits.max_compute_workgroups_per_dimension);
        let x = groups.clamp(1, max);
        let y = groups.div_ceil(x).max(1);
        if y > max {
            return Err(GpuError::TooLarge(what.to_owned()));
        }
        Ok((x as u32, y as u32))
    }

    /// Runs a host-to-host operation in three timed phases: upload every
    /// input, run `compute` on the device tensors, download its result. Each
    /// phase waits for the device before the clock stops.
    pub fn run_host(
        &self,
        inputs: &[&[f32]],
        compute: impl FnOnce(&GpuContext, &[GpuTensor]) -> Result<GpuTensor, crate::TruenoError>,
    ) -> Result<(Vec<f32>, Timings), crate::TruenoError> {
        let t0 = Instant::now();
        let tensors = inputs
            .iter()
            .map(|d| self.upload(d))
            .collect::<Result<Vec<_>, _>>()?;
        self.sync()?;
        let t1 = Instant::now();
        let out = compute(self, &tensors)?;
        self.sync()?;
        let t2 = Instant::now();
        let data = self.download(&out)?;
        let t3 = Instant::now();
        Ok((
            data,
            Timings {
                upload: t1 - t0,
                compute: t2 - t1,
                download: t3 - t2,
            },
        ))
    }
}
