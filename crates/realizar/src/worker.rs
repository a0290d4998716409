//! The worker loop: take requests off a backend's queue, merge those for the
//! same model into one forward pass (dynamic batching), run it, and answer
//! each caller with its own rows.
//!
//! A batch closes when the next request would take it past `max_batch_size`
//! rows, when `max_batch_delay` has passed since its first request, or when
//! the next request is for another model (that one starts the next batch). A
//! request whose caller has gone is dropped unrun; one whose deadline has
//! passed is answered with a timeout error, unrun. Backend time is shared
//! among a batch's requests by rows, so per-request accounting (batuta's GPU
//! budget) adds up to the time the backend was really busy.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use aprender::{AprenderError, GpuMlp, Mlp, Screened, first_non_finite, non_finite_rows};
use crossbeam_channel::Receiver;
use trueno::Backend;
use trueno::gpu::GpuContext;

use crate::EngineError;
use crate::engine::{InferenceOutput, Job, Reply};
use crate::queue::{BackendQueue, LiveWorker};

/// Device-resident weights of the models a GPU worker has served.
struct ResidentModels {
    ctx: &'static GpuContext,
    /// Keyed by the model's address; the `Weak` tells a live model from a
    /// dropped one whose address was reused.
    models: HashMap<usize, (Weak<Mlp>, GpuMlp)>,
}

impl ResidentModels {
    fn predict(
        &mut self,
        model: &Arc<Mlp>,
        x: &[f32],
        rows: usize,
    ) -> Result<Screened, AprenderError> {
        self.models.retain(|_, (weak, _)| weak.strong_count() > 0);
        // After the purge, an entry at a live model's address is that model.
        let key = Arc::as_ptr(model) as usize;
        if !self.models.contains_key(&key) {
            let uploaded = model.upload(self.ctx)?;
            self.models.insert(key, (Arc::downgrade(model), uploaded));
        }
        let out = self.models[&key].1.predict(self.ctx, x, rows)?;
        let bad_rows = non_finite_rows(x, model.n_features());
        Ok(Screened { out, bad_rows })
    }
}

/// Answers a job that cannot run: its caller left (nothing to say) or its
/// deadline passed. Returns the job if it should run.
fn runnable(job: Job, backend: Backend) -> Option<Job> {
    if job.reply.is_closed() {
        tracing::debug!(%backend, model = %job.input.model, "caller gave up; skipping");
        return None;
    }
    if job.deadline.is_some_and(|d| Instant::now() >= d) {
        // The slot is freed before the answer goes out, as for computed
        // requests: a caller that sees the answer sees the queue without it.
        let Job { reply, slot, .. } = job;
        drop(slot);
        let _ = reply.send(Err(EngineError::DeadlineExceeded { backend }));
        return None;
    }
    Some(job)
}

/// How long an idle worker polls before it sleeps on the channel.
pub(crate) const SPIN: Duration = Duration::from_micros(50);

/// The next job. A client that sends its next request right after an answer
/// finds the worker still polling and skips a thread wake-up (tens of µs on a
/// VM); an idle worker costs at most `SPIN` of CPU before it sleeps.
fn next_job(rx: &Receiver<Job>) -> Result<Job, crossbeam_channel::RecvError> {
    let until = Instant::now() + SPIN;
    loop {
        match rx.try_recv() {
            Ok(job) => return Ok(job),
            Err(crossbeam_channel::TryRecvError::Disconnected) => {
                return Err(crossbeam_channel::RecvError);
            }
            Err(crossbeam_channel::TryRecvError::Empty) if Instant::now() < until => {
                std::hint::spin_loop()
            }
            Err(crossbeam_channel::TryRecvError::Empty) => return rx.recv(),
        }
    }
}

/// Runs until the queue's sender is dropped (under [`supervise`]).
pub(crate) fn work(
    rx: Receiver<Job>,
    queue: BackendQueue,
    (max_rows, max_delay): (usize, Duration),
) {
    let backend = queue.backend();
    let mut resident = match backend {
        Backend::Gpu => GpuContext::shared().ok().map(|ctx| ResidentModels {
            ctx,
            models: HashMap::new(),
        }),
        _ => None,
    };
    let mut carry: Option<Job> = None;
    loop {
        let first = match carry.take() {
            Some(j) => j,
            None => match next_job(&rx) {
                Ok(j) => j,
                Err(_) => return,
            },
        };
        let Some(first) = runnable(first, backend) else {
            continue;
        };
        let mut batch = vec![first];
        let mut rows = batch[0].input.rows;
        let deadline = Instant::now() + max_delay;
        while rows < max_rows {
            let next = if max_delay.is_zero() {
                rx.try_recv().ok()
            } else {
                rx.recv_deadline(deadline).ok()
            };
            let Some(job) = next else { break };
            let Some(job) = runnable(job, backend) else {
                continue;
            };
            if Arc::ptr_eq(&job.model, &batch[0].model) && rows + job.input.rows <= max_rows {
                rows += job.input.rows;
                batch.push(job);
            } else {
                carry = Some(job);
                break;
            }
        }
        run(batch, rows, &queue, resident.as_mut());
    }
}

/// Runs a worker loop until it returns (its queue closed), and restarts it in
/// place if it panics: the job it held is answered by its dropped reply
/// ("the worker stopped before answering"), the panic is logged, and the
/// backend keeps its worker. Forward passes catch their own panics (see
/// [`run`]); this is the net under everything else.
pub(crate) fn supervise(queue: &BackendQueue, _live: LiveWorker, mut body: impl FnMut()) {
    loop {
        match catch_unwind(AssertUnwindSafe(&mut body)) {
            Ok(()) => return,
            Err(panic) => {
                tracing::error!(
                    backend = %queue.backend(),
                    reason = %panic_message(panic.as_ref()),
                    "worker panicked; restarting it"
                );
                // A loop that panics before taking a job must not spin hot.
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// The text of a panic payload (`panic!` with a literal or a format string).
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// One forward pass over every request of the batch, answered per request.
/// A panic in the pass is caught and answered to this batch's requests only;
/// nothing after it indexes unchecked, so the worker survives every input.
fn run(batch: Vec<Job>, rows: usize, queue: &BackendQueue, resident: Option<&mut ResidentModels>) {
    let backend = queue.backend();
    let model = Arc::clone(&batch[0].model);
    queue.record_progress();
    let start = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| {
        let forward = |x: &[f32], rows: usize| match resident {
            Some(r) => r.predict(&model, x, rows),
            None => model.predict_screened(backend, x, rows),
        };
        if let [only] = batch.as_slice() {
            return forward(&only.input.data, only.input.rows);
        }
        let mut data = Vec::with_capacity(rows * model.n_features());
        for job in &batch {
            data.extend_from_slice(&job.input.data);
        }
        forward(&data, rows)
    }));
    let busy = start.elapsed();
    queue.record_pass(busy, batch.len());
    queue.record_progress();
    let panicked = result
        .as_ref()
        .err()
        .map(|p| panic_message(p.as_ref()).to_owned());
    if let Some(reason) = &panicked {
        tracing::error!(%backend, model = %batch[0].input.model, %reason, "forward pass panicked");
    }
    let classes = model.n_classes();
    let mut offset = 0;
    for job in batch {
        let Job {
            input, reply, slot, ..
        } = job;
        drop(slot);
        // `submit` refuses empty inputs, so `rows` > 0; the guard keeps a
        // zero from ever reaching `mul_f64` (which panics on NaN).
        let share = if rows == 0 {
            Duration::ZERO
        } else {
            busy.mul_f64(input.rows as f64 / rows as f64)
        };
        let mine = offset..offset + input.rows;
        offset += input.rows;
        let answer: Reply = match &result {
            Ok(Ok(all)) if has_bad_row(&all.bad_rows, mine.clone()) => {
                let index = first_non_finite(&input.data).unwrap_or(0);
                Err(EngineError::NonFiniteInput {
                    index,
                    value: input.data.get(index).copied().unwrap_or(f32::NAN),
                })
            }
            Ok(Ok(all)) => match all.out.get(mine.start * classes..mine.end * classes) {
                Some(data) => Ok(InferenceOutput {
                    backend,
                    rows: input.rows,
                    classes,
                    data: data.to_vec(),
                    busy: share,
                    batch_rows: rows,
                }),
                None => Err(EngineError::Internal {
                    backend,
                    message: format!(
                        "the forward pass returned {} values for {rows} rows of {classes} classes",
                        all.out.len()
                    ),
                }),
            },
            Ok(Err(e)) => Err(EngineError::Internal {
                backend,
                message: format!("batched forward pass failed: {e}"),
            }),
            Err(_) => Err(EngineError::Internal {
                backend,
                message: format!(
                    "the model panicked: {}",
                    panicked.as_deref().unwrap_or_default()
                ),
            }),
        };
        let _ = reply.send(answer);
    }
}

/// Whether the sorted `bad_rows` has one inside `rows`.
fn has_bad_row(bad_rows: &[usize], rows: std::ops::Range<usize>) -> bool {
    let at = bad_rows.partition_point(|&r| r < rows.start);
    bad_rows.get(at).is_some_and(|&r| r < rows.end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InferenceInput;
    use tokio::sync::oneshot;

    /// A job of `rows` rows for `model` on `queue`, and its answer.
    fn job(queue: &BackendQueue, model: &Arc<Mlp>, rows: usize) -> (Job, oneshot::Receiver<Reply>) {
        let (reply, rx) = oneshot::channel();
        let job = Job {
            model: Arc::clone(model),
            input: InferenceInput {
                model: "m".into(),
                rows,
                data: vec![0.25; rows * model.n_features()].into(),
            },
            reply,
            slot: queue.try_reserve().expect("room"),
            deadline: None,
        };
        (job, rx)
    }

    #[test]
    fn batches_respect_the_row_limit_and_skip_cancelled_requests() {
        // Every job is queued before the worker starts, so the batches are
        // exactly determined: six of 4 rows under a 10-row limit make three
        // passes of 8. A cancelled 2-row job sits among them: run, it would
        // make a pass of 10 rows (or of 6) and a fourth pass.
        let queue = BackendQueue::new(Backend::Scalar, 16, 1);
        let model = Arc::new(Mlp::random(&[8, 4, 2], 1).unwrap());
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut answers = Vec::new();
        for i in 0..6 {
            if i == 2 {
                let (cancelled, gone) = job(&queue, &model, 2);
                drop(gone);
                tx.send(cancelled).unwrap();
            }
            let (j, answer) = job(&queue, &model, 4);
            tx.send(j).unwrap();
            answers.push(answer);
        }
        assert_eq!(queue.queue_depth(), 7);
        drop(tx);
        work(rx, queue.clone(), (10, Duration::from_secs(60)));
        for answer in answers {
            let out = answer.blocking_recv().unwrap().unwrap();
            assert_eq!((out.rows, out.batch_rows), (4, 8));
        }
        assert_eq!(queue.passes(), 3, "the cancelled job ran");
        assert_eq!(queue.queue_depth(), 0, "a slot leaked");
    }

    #[test]
    fn a_panicking_worker_is_restarted_and_counted_live_while_it_runs() {
        let queue = BackendQueue::new(Backend::Scalar, 1, 1);
        let mut runs = 0;
        supervise(&queue, queue.worker_alive(), || {
            runs += 1;
            assert_eq!(queue.live_workers(), 1);
            if runs < 3 {
                panic!("boom {runs}");
            }
        });
        assert_eq!(runs, 3);
        assert_eq!(queue.live_workers(), 0);
    }

    #[test]
    fn panic_messages_are_read_from_both_payload_kinds() {
        let literal = catch_unwind(|| panic!("plain")).unwrap_err();
        let formatted = catch_unwind(|| panic!("{} {}", "with", 2)).unwrap_err();
        assert_eq!(panic_message(literal.as_ref()), "plain");
        assert_eq!(panic_message(formatted.as_ref()), "with 2");
    }
}
