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

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use trueno::Backend;

use crate::EngineError;
use crate::engine::{InferenceOutput, Job, Reply};
use crate::model::{Answer, Model, Payload};
use crate::queue::{BackendQueue, LiveWorker};

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
        let mut rows = batch[0].input.items();
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
            if same_model(&job.model, &batch[0].model) && rows + job.input.items() <= max_rows {
                rows += job.input.items();
                batch.push(job);
            } else {
                carry = Some(job);
                break;
            }
        }
        run(batch, rows, &queue);
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

/// Whether two handles are the same loaded model (by address: a model
/// replaced under the same name starts a new batch).
fn same_model(a: &Arc<dyn Model>, b: &Arc<dyn Model>) -> bool {
    std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b))
}

/// One forward pass over every request of the batch, answered per request.
/// A panic in the pass is caught and answered to this batch's requests only;
/// nothing after it indexes unchecked, so the worker survives every input.
fn run(batch: Vec<Job>, items: usize, queue: &BackendQueue) {
    let backend = queue.backend();
    let model = Arc::clone(&batch[0].model);
    queue.record_progress();
    let start = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| {
        let payloads: Vec<&Payload> = batch.iter().map(|j| &j.input.payload).collect();
        model.run(backend, &payloads)
    }));
    let busy = start.elapsed();
    queue.record_pass(busy, batch.len());
    queue.record_progress();
    let failure = match &result {
        Ok(Ok(answers)) if answers.len() == batch.len() => None,
        Ok(Ok(answers)) => Some(format!(
            "the model answered {} of {} requests",
            answers.len(),
            batch.len()
        )),
        Ok(Err(e)) => Some(format!("batched forward pass failed: {e}")),
        Err(panic) => {
            let reason = panic_message(panic.as_ref()).to_owned();
            tracing::error!(%backend, model = %batch[0].input.model, %reason, "forward pass panicked");
            Some(format!("the model panicked: {reason}"))
        }
    };
    let mut answers: Vec<Option<Result<Answer, EngineError>>> = match result {
        Ok(Ok(a)) if failure.is_none() => a.into_iter().map(Some).collect(),
        _ => std::iter::repeat_with(|| None).take(batch.len()).collect(),
    };
    for (job, answer) in batch.into_iter().zip(answers.iter_mut()) {
        let Job {
            input, reply, slot, ..
        } = job;
        drop(slot);
        let n = input.items();
        // `submit` refuses empty inputs, so `items` > 0; the guard keeps a
        // zero from ever reaching `mul_f64` (which panics on NaN).
        let share = if items == 0 {
            Duration::ZERO
        } else {
            busy.mul_f64(n as f64 / items as f64)
        };
        let reply_with: Reply = match answer.take() {
            Some(Ok(a)) if a.rows == n => Ok(InferenceOutput {
                backend,
                rows: a.rows,
                cols: a.cols,
                data: a.data,
                busy: share,
                batch_rows: items,
            }),
            Some(Ok(a)) => Err(EngineError::Internal {
                backend,
                message: format!("the model answered {} rows for {n}", a.rows),
            }),
            Some(Err(e)) => Err(e),
            None => Err(EngineError::Internal {
                backend,
                message: failure.clone().unwrap_or_default(),
            }),
        };
        let _ = reply.send(reply_with);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InferenceInput;
    use aprender::Mlp;
    use tokio::sync::oneshot;

    /// A job of `rows` rows for `model` on `queue`, and its answer.
    fn job(queue: &BackendQueue, model: &Arc<Mlp>, rows: usize) -> (Job, oneshot::Receiver<Reply>) {
        let (reply, rx) = oneshot::channel();
        let job = Job {
            model: Arc::clone(model) as Arc<dyn Model>,
            input: InferenceInput::rows("m", rows, vec![0.25; rows * model.n_features()]),
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
