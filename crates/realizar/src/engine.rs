//! The engine: models plus one worker pool per backend.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::Sender;
use tokio::sync::oneshot;
use trueno::Backend;

use crate::EngineError;
use crate::model::{Model, Payload};
use crate::queue::{BackendQueue, Slot};

/// One backend's worker pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendConfig {
    /// Which backend the workers run on.
    pub backend: Backend,
    /// Requests that may be admitted (queued or running) at once; at least 1.
    pub capacity: usize,
    /// Worker threads; at least 1.
    pub workers: usize,
    /// Most rows merged into one forward pass (1: no batching).
    pub max_batch_size: usize,
    /// Longest a worker waits for more requests once it holds one.
    pub max_batch_delay: Duration,
}

impl BackendConfig {
    /// A pool without batching.
    pub fn new(backend: Backend, capacity: usize, workers: usize) -> BackendConfig {
        BackendConfig {
            backend,
            capacity,
            workers,
            max_batch_size: 1,
            max_batch_delay: Duration::ZERO,
        }
    }

    /// Merges requests for the same model into forward passes of up to
    /// `max_rows` rows, waiting at most `max_delay` for them to arrive.
    pub fn with_batching(mut self, max_rows: usize, max_delay: Duration) -> BackendConfig {
        self.max_batch_size = max_rows.max(1);
        self.max_batch_delay = max_delay;
        self
    }
}

/// A request for one model.
#[derive(Debug, Clone, PartialEq)]
pub struct InferenceInput {
    /// The model's registered name.
    pub model: String,
    /// Its data.
    pub payload: Payload,
}

impl InferenceInput {
    /// `rows` rows of features, row-major.
    pub fn rows(
        model: impl Into<String>,
        rows: usize,
        data: impl Into<Arc<[f32]>>,
    ) -> InferenceInput {
        InferenceInput {
            model: model.into(),
            payload: Payload::Rows {
                rows,
                data: data.into(),
            },
        }
    }

    /// Texts, one output row each.
    pub fn texts(model: impl Into<String>, texts: Vec<String>) -> InferenceInput {
        InferenceInput {
            model: model.into(),
            payload: Payload::Texts(texts.into()),
        }
    }

    /// Output rows asked for (rows or texts).
    pub fn items(&self) -> usize {
        self.payload.items()
    }
}

/// A finished request.
#[derive(Debug, Clone, PartialEq)]
pub struct InferenceOutput {
    /// The backend that ran it.
    pub backend: Backend,
    /// Rows in `data`.
    pub rows: usize,
    /// Values per row (classes, or the embedding width).
    pub cols: usize,
    /// Row-major values (class probabilities, outputs or embeddings).
    pub data: Vec<f32>,
    /// Backend time attributed to this request: its share, by items, of the
    /// forward pass it ran in (not time spent waiting in the queue).
    pub busy: Duration,
    /// Items (rows or texts) in that forward pass (more than `rows` when it was batched).
    pub batch_rows: usize,
}

pub(crate) type Reply = Result<InferenceOutput, EngineError>;

pub(crate) struct Job {
    pub(crate) model: Arc<dyn Model>,
    pub(crate) input: InferenceInput,
    pub(crate) reply: oneshot::Sender<Reply>,
    pub(crate) slot: Slot,
    pub(crate) deadline: Option<std::time::Instant>,
}

/// A submitted request's result, to `.await` or [`wait`](Pending::wait) on.
///
/// Dropping it cancels the request if it has not started: the worker skips
/// requests whose caller is gone.
#[derive(Debug)]
pub struct Pending {
    backend: Backend,
    rx: oneshot::Receiver<Reply>,
    /// Whether [`wait`](Pending::wait) should poll before it parks: the
    /// request was expected to finish within [`SPIN`](crate::worker::SPIN).
    spin: bool,
}

impl Pending {
    /// Blocks the current thread until the result is ready (not for async code).
    ///
    /// When the queue expected this request to finish within
    /// [`SPIN`](crate::worker::SPIN), polls for that long first: a parked
    /// caller would cost a thread wake-up (tens of µs on a VM) on top of a
    /// short forward pass. A longer request parks at once, so the caller's
    /// core stays free for the pass's own threads.
    pub fn wait(mut self) -> Reply {
        let backend = self.backend;
        let until = std::time::Instant::now() + crate::worker::SPIN;
        while self.spin && std::time::Instant::now() < until {
            match self.rx.try_recv() {
                Ok(reply) => return reply,
                Err(oneshot::error::TryRecvError::Closed) => return Err(worker_gone(backend)),
                Err(oneshot::error::TryRecvError::Empty) => std::hint::spin_loop(),
            }
        }
        self.rx
            .blocking_recv()
            .unwrap_or_else(|_| Err(worker_gone(backend)))
    }
}

pub(crate) fn worker_gone(backend: Backend) -> EngineError {
    EngineError::Internal {
        backend,
        message: "the worker stopped before answering".into(),
    }
}

impl Future for Pending {
    type Output = Reply;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Reply> {
        let backend = self.backend;
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or_else(|_| Err(worker_gone(backend))))
    }
}

struct Pool {
    queue: BackendQueue,
    tx: Option<Sender<Job>>,
    workers: Workers,
}

/// The threads a backend's workers run on.
enum Workers {
    /// One OS thread per worker (scalar and GPU backends).
    Threads(Vec<JoinHandle<()>>),
    /// SIMD workers run on threads of the backend's own rayon pool, which has
    /// a thread per worker plus one per core beyond the first: a forward pass split across
    /// threads then starts on the worker itself and the spare threads steal
    /// the rest, instead of being handed to another pool and waited for
    /// (two fewer thread wake-ups per request). `done` hears from each
    /// worker as it returns.
    Rayon {
        _pool: rayon::ThreadPool,
        done: crossbeam_channel::Receiver<()>,
        count: usize,
    },
}

/// Loaded models and a bounded worker pool per configured backend.
pub struct Engine {
    models: RwLock<HashMap<String, Arc<dyn Model>>>,
    pools: HashMap<Backend, Pool>,
}

impl Engine {
    /// Starts the worker pools. Fails on an unavailable backend, a backend
    /// listed twice, or a zero capacity or worker count.
    pub fn new(backends: &[BackendConfig]) -> Result<Engine, EngineError> {
        let mut pools = HashMap::new();
        for cfg in backends {
            if cfg.capacity == 0 || cfg.workers == 0 {
                return Err(EngineError::Config(format!(
                    "backend `{}` needs capacity ≥ 1 and workers ≥ 1 (got {} and {})",
                    cfg.backend, cfg.capacity, cfg.workers
                )));
            }
            if cfg.backend == Backend::Gpu
                && let Err(e) = trueno::gpu::GpuContext::shared()
            {
                return Err(EngineError::BackendUnavailable {
                    backend: cfg.backend,
                    reason: e.to_string(),
                });
            }
            if pools.contains_key(&cfg.backend) {
                return Err(EngineError::Config(format!(
                    "backend `{}` is listed twice",
                    cfg.backend
                )));
            }
            pools.insert(cfg.backend, Pool::start(cfg)?);
        }
        Ok(Engine {
            models: RwLock::new(HashMap::new()),
            pools,
        })
    }

    /// The queue of a configured backend.
    pub fn queue(&self, backend: Backend) -> Option<&BackendQueue> {
        self.pools.get(&backend).map(|p| &p.queue)
    }

    /// All configured queues, in backend order.
    pub fn queues(&self) -> Vec<&BackendQueue> {
        let mut qs: Vec<_> = self.pools.values().map(|p| &p.queue).collect();
        qs.sort_by_key(|q| q.backend());
        qs
    }

    /// Registers (or replaces) a model under `name`.
    pub fn insert_model(&self, name: &str, model: Arc<dyn Model>) {
        self.models
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned(), model);
    }

    /// Unregisters a model; requests already admitted still finish.
    pub fn remove_model(&self, name: &str) -> Option<Arc<dyn Model>> {
        self.models
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name)
    }

    /// A loaded model by name.
    pub fn model(&self, name: &str) -> Option<Arc<dyn Model>> {
        self.models
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Names of the loaded models, sorted.
    pub fn model_names(&self) -> Vec<String> {
        let mut names: Vec<_> = self
            .models
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    }

    /// Admits a request to `backend`'s queue, or says why not; never blocks.
    ///
    /// The model and the input are checked first ([`Model::check`]), so such
    /// a request never occupies a slot. Values are screened by the forward
    /// pass itself (for an MLP, [`aprender::Mlp::predict_screened`]: in
    /// parallel, on rows already in cache, where a check here would read a
    /// large batch from memory on the caller's thread first): a request
    /// holding a NaN or an infinity is answered
    /// [`EngineError::NonFiniteInput`], and other requests batched with it
    /// get their results.
    pub fn submit(&self, backend: Backend, input: InferenceInput) -> Result<Pending, EngineError> {
        self.submit_by(backend, input, None)
    }

    /// As [`submit`](Self::submit), with a deadline: a request still queued
    /// when it passes is answered [`EngineError::DeadlineExceeded`] and never
    /// computed.
    pub fn submit_by(
        &self,
        backend: Backend,
        input: InferenceInput,
        deadline: Option<std::time::Instant>,
    ) -> Result<Pending, EngineError> {
        let model = self
            .model(&input.model)
            .ok_or_else(|| EngineError::UnknownModel(input.model.clone()))?;
        model.check(&input.payload)?;
        let pool = self
            .pools
            .get(&backend)
            .ok_or(EngineError::BackendNotConfigured(backend))?;
        let slot = pool.queue.try_reserve().ok_or(EngineError::QueueFull {
            backend,
            capacity: pool.queue.capacity(),
        })?;
        let (reply, rx) = oneshot::channel();
        // Measured on this queue, so on requests like this one when a client
        // sends one kind (the case where spinning pays).
        let spin = pool.queue.mean_pass_time().is_some()
            && pool.queue.expected_drain_time() <= crate::worker::SPIN;
        let job = Job {
            model,
            input,
            reply,
            slot,
            deadline,
        };
        // The channel is unbounded; the slot is the bound. Send fails only if
        // every worker is gone, in which case the slot drops with the job.
        pool.tx
            .as_ref()
            .expect("open until drop")
            .send(job)
            .map_err(|_| worker_gone(backend))?;
        Ok(Pending { backend, rx, spin })
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("models", &self.model_names())
            .field("queues", &self.queues())
            .finish()
    }
}

impl Pool {
    fn start(cfg: &BackendConfig) -> Result<Pool, EngineError> {
        let queue = BackendQueue::new(cfg.backend, cfg.capacity, cfg.workers);
        let (tx, rx) = crossbeam_channel::unbounded::<Job>();
        let batching = (cfg.max_batch_size, cfg.max_batch_delay);
        let spare = std::thread::available_parallelism().map_or(1, usize::from) - 1;
        let rayon_pool = (cfg.backend == Backend::Simd)
            .then(|| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(cfg.workers + spare)
                    .thread_name(move |i| format!("realizar-simd-{i}"))
                    .build()
                    .ok()
            })
            .flatten();
        let workers = match rayon_pool {
            Some(pool) => {
                let (done_tx, done) = crossbeam_channel::bounded(cfg.workers);
                for _ in 0..cfg.workers {
                    let (rx, queue, done_tx) = (rx.clone(), queue.clone(), done_tx.clone());
                    let live = queue.worker_alive();
                    pool.spawn(move || {
                        // rayon aborts on a panic in a spawned task: `supervise`
                        // catches every one and restarts the loop.
                        crate::worker::supervise(&queue, live, || {
                            crate::worker::work(rx.clone(), queue.clone(), batching)
                        });
                        let _ = done_tx.send(());
                    });
                }
                Workers::Rayon {
                    _pool: pool,
                    done,
                    count: cfg.workers,
                }
            }
            None => {
                let mut threads = Vec::with_capacity(cfg.workers);
                for i in 0..cfg.workers {
                    let (rx, queue) = (rx.clone(), queue.clone());
                    // Counted from here: a started pool reports its workers live.
                    let live = queue.worker_alive();
                    let spawned = std::thread::Builder::new()
                        .name(format!("realizar-{}-{i}", cfg.backend))
                        .spawn(move || {
                            crate::worker::supervise(&queue, live, || {
                                crate::worker::work(rx.clone(), queue.clone(), batching)
                            })
                        });
                    match spawned {
                        Ok(t) => threads.push(t),
                        Err(e) => {
                            // Close the channel so the workers already started return.
                            drop(tx);
                            threads.into_iter().for_each(|t: JoinHandle<()>| {
                                let _ = t.join();
                            });
                            return Err(EngineError::BackendUnavailable {
                                backend: cfg.backend,
                                reason: format!("cannot start worker thread {i}: {e}"),
                            });
                        }
                    }
                }
                Workers::Threads(threads)
            }
        };
        Ok(Pool {
            queue,
            tx: Some(tx),
            workers,
        })
    }

    /// Waits for every worker to return (after the sender is dropped).
    fn join(&mut self) {
        match &mut self.workers {
            Workers::Threads(threads) => {
                for t in threads.drain(..) {
                    let _ = t.join();
                }
            }
            Workers::Rayon { done, count, .. } => {
                for _ in 0..std::mem::take(count) {
                    let _ = done.recv();
                }
            }
        }
    }
}

impl Drop for Engine {
    /// Closes the queues and waits for the workers to finish what was admitted.
    fn drop(&mut self) {
        for pool in self.pools.values_mut() {
            pool.tx.take();
        }
        for pool in self.pools.values_mut() {
            pool.join();
        }
    }
}
