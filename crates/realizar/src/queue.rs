//! The bounded queue in front of each backend's workers.
//!
//! Depth counts requests admitted and not yet finished (waiting *or* running),
//! because that is what a new request waits behind. A slot is reserved with a
//! compare-and-swap before anything is enqueued, and released by dropping the
//! [`Slot`] guard, so no path — success, error, panic or a caller that gave up —
//! can leak capacity.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use trueno::Backend;

/// A queue whose worker has made no progress for this many mean service
/// times is *stalled* (see [`BackendQueue::has_room`]).
const STALL_FACTOR: u32 = 4;

/// The clock `progress` counts from.
fn epoch() -> std::time::Instant {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(std::time::Instant::now)
}

/// Weight of the newest observation in the service-time average.
const EWMA_ALPHA: f64 = 0.2;
/// Service times kept for percentiles.
const RECENT: usize = 512;

#[derive(Debug)]
pub(crate) struct Shared {
    depth: AtomicUsize,
    capacity: usize,
    /// Workers whose loop is running (a panicking one is restarted in place).
    live: AtomicUsize,
    /// When a worker last started or finished a pass, in µs since [`epoch`].
    progress: std::sync::atomic::AtomicU64,
    /// Forward passes: their mean time and requests (EWMAs), and the count.
    passes: Mutex<PassStats>,
    /// The last `RECENT` pass times, oldest first.
    recent: Mutex<std::collections::VecDeque<Duration>>,
}

/// Exponentially weighted means over the forward passes run so far.
#[derive(Debug, Default, Clone, Copy)]
struct PassStats {
    seconds: f64,
    requests: f64,
    count: u64,
}

/// One queue's load at an instant: what routing, selection and `Retry-After`
/// read, so that every estimate of a wait is the same arithmetic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueueLoad {
    /// The backend.
    pub backend: Backend,
    /// Requests admitted and not yet finished (queued or running).
    pub depth: usize,
    /// Requests it admits at most now ([`BackendQueue::admit_limit`]).
    pub admit_limit: usize,
    /// Worker threads draining the queue.
    pub workers: usize,
    /// Mean time of one forward pass, `None` before the first finished.
    pub pass_time: Option<Duration>,
    /// Mean requests answered by one pass: 1 without batching, more when a
    /// worker merges queued requests.
    pub requests_per_pass: f64,
}

impl QueueLoad {
    /// Whether a request would be admitted.
    pub fn has_room(&self) -> bool {
        self.depth < self.admit_limit
    }

    /// Worker time one request costs: a pass shared among its requests.
    pub fn per_request(&self) -> Option<Duration> {
        self.pass_time
            .map(|p| p.div_f64(self.requests_per_pass.max(1.0)))
    }

    /// How long the requests admitted now take to drain: depth × the
    /// per-request time / workers (zero before a pass was measured).
    pub fn drain_time(&self) -> Duration {
        self.per_request()
            .unwrap_or_default()
            .mul_f64(self.depth as f64 / self.workers.max(1) as f64)
    }

    /// When a request admitted now should finish: the queue ahead drains,
    /// then its own pass runs. `None` before a pass was measured.
    pub fn completion(&self) -> Option<Duration> {
        self.pass_time.map(|p| self.drain_time().saturating_add(p))
    }
}

/// A reserved place in a backend's queue; dropping it frees the place.
#[derive(Debug)]
pub(crate) struct Slot(Arc<Shared>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.depth.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A running worker, counted in [`BackendQueue::live_workers`] until dropped.
#[derive(Debug)]
pub(crate) struct LiveWorker(Arc<Shared>);

impl Drop for LiveWorker {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A view of one backend's queue: how full it is and how fast it drains.
#[derive(Debug, Clone)]
pub struct BackendQueue {
    backend: Backend,
    workers: usize,
    pub(crate) shared: Arc<Shared>,
}

impl BackendQueue {
    pub(crate) fn new(backend: Backend, capacity: usize, workers: usize) -> BackendQueue {
        let shared = Shared {
            depth: AtomicUsize::new(0),
            capacity,
            live: AtomicUsize::new(0),
            progress: std::sync::atomic::AtomicU64::new(0),
            passes: Mutex::new(PassStats::default()),
            recent: Mutex::new(std::collections::VecDeque::with_capacity(RECENT)),
        };
        BackendQueue {
            backend,
            workers,
            shared: Arc::new(shared),
        }
    }

    /// The backend these workers run on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Requests admitted and not yet finished (queued or running).
    pub fn queue_depth(&self) -> usize {
        self.shared.depth.load(Ordering::Acquire)
    }

    /// The most requests admitted at once while the workers keep pace
    /// (twice that while they are stalled: [`admit_limit`](Self::admit_limit)).
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// Worker threads serving this queue.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Workers running their loop now: below [`workers`](Self::workers)
    /// only while the pool starts or after a worker thread ended.
    pub fn live_workers(&self) -> usize {
        self.shared.live.load(Ordering::Acquire)
    }

    /// Counts a worker as live until the returned guard drops.
    pub(crate) fn worker_alive(&self) -> LiveWorker {
        self.shared.live.fetch_add(1, Ordering::AcqRel);
        LiveWorker(Arc::clone(&self.shared))
    }

    /// Mean time of one forward pass (exponentially weighted), or `None`
    /// before the first finished. With batching a pass answers several
    /// requests: [`load`](Self::load) divides it among them.
    pub fn mean_pass_time(&self) -> Option<Duration> {
        let p = *self.shared.passes.lock().unwrap_or_else(|e| e.into_inner());
        (p.count > 0).then(|| Duration::from_secs_f64(p.seconds))
    }

    /// Forward passes run so far.
    pub fn passes(&self) -> u64 {
        self.shared
            .passes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .count
    }

    /// The queue's load now.
    pub fn load(&self) -> QueueLoad {
        let p = *self.shared.passes.lock().unwrap_or_else(|e| e.into_inner());
        QueueLoad {
            backend: self.backend,
            depth: self.queue_depth(),
            admit_limit: self.admit_limit(),
            workers: self.workers,
            pass_time: (p.count > 0).then(|| Duration::from_secs_f64(p.seconds)),
            requests_per_pass: if p.count > 0 { p.requests } else { 1.0 },
        }
    }

    /// The `q`-quantile (0–1) of the last 512 pass times, or `None` before
    /// the first request finished.
    pub fn service_percentile(&self, q: f64) -> Option<Duration> {
        let mut v: Vec<Duration> = self
            .shared
            .recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .copied()
            .collect();
        if v.is_empty() {
            return None;
        }
        v.sort_unstable();
        let rank = ((v.len() as f64 * q.clamp(0.0, 1.0)).ceil() as usize).clamp(1, v.len());
        Some(v[rank - 1])
    }

    /// How long the requests now admitted should take to drain
    /// ([`QueueLoad::drain_time`]).
    pub fn expected_drain_time(&self) -> Duration {
        self.load().drain_time()
    }

    /// Whether the workers are stalled: requests are admitted, and no pass has
    /// started or finished for [`STALL_FACTOR`] mean service times (on a VM,
    /// the whole machine paused; on any machine, a pass far slower than usual).
    pub fn is_stalled(&self) -> bool {
        let Some(mean) = self.mean_pass_time() else {
            return false;
        };
        let last = Duration::from_micros(self.shared.progress.load(Ordering::Acquire));
        self.queue_depth() > 0 && epoch().elapsed().saturating_sub(last) > mean * STALL_FACTOR
    }

    /// How many requests may be admitted now: the capacity, or twice it while
    /// the workers are stalled. A stall is not load: the requests that arrive
    /// during it would otherwise be refused at a load the backend keeps up
    /// with, while under real overload the workers keep making progress and
    /// the bound stays the capacity.
    pub fn admit_limit(&self) -> usize {
        if self.is_stalled() {
            self.shared.capacity.saturating_mul(2)
        } else {
            self.shared.capacity
        }
    }

    /// Whether a request would be admitted now.
    pub fn has_room(&self) -> bool {
        self.queue_depth() < self.admit_limit()
    }

    /// A worker started or finished a pass.
    pub(crate) fn record_progress(&self) {
        let now = u64::try_from(epoch().elapsed().as_micros()).unwrap_or(u64::MAX);
        self.shared.progress.store(now, Ordering::Release);
    }

    /// Reserves a slot if one is free (see [`admit_limit`](Self::admit_limit)); never blocks.
    pub(crate) fn try_reserve(&self) -> Option<Slot> {
        let s = &self.shared;
        let limit = self.admit_limit();
        s.depth
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| {
                (d < limit).then_some(d + 1)
            })
            .ok()
            .map(|_| Slot(Arc::clone(s)))
    }

    /// A forward pass that answered `requests` requests took `took`.
    pub(crate) fn record_pass(&self, took: Duration, requests: usize) {
        let mut p = self.shared.passes.lock().unwrap_or_else(|e| e.into_inner());
        let (t, n) = (took.as_secs_f64(), requests.max(1) as f64);
        if p.count == 0 {
            (p.seconds, p.requests) = (t, n);
        } else {
            p.seconds += EWMA_ALPHA * (t - p.seconds);
            p.requests += EWMA_ALPHA * (n - p.requests);
        }
        p.count += 1;
        drop(p);
        let mut recent = self.shared.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() == RECENT {
            recent.pop_front();
        }
        recent.push_back(took);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_bounded_and_released_on_drop() {
        let q = BackendQueue::new(Backend::Scalar, 2, 1);
        let a = q.try_reserve().unwrap();
        let b = q.try_reserve().unwrap();
        assert!(q.try_reserve().is_none());
        assert_eq!(q.queue_depth(), 2);
        drop(a);
        assert_eq!(q.queue_depth(), 1);
        let _c = q.try_reserve().unwrap();
        drop(b);
        assert_eq!(q.queue_depth(), 1);
    }

    #[test]
    fn concurrent_reservations_never_exceed_capacity() {
        let q = BackendQueue::new(Backend::Simd, 5, 1);
        let held: Vec<Slot> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..8)
                .map(|_| s.spawn(|| (0..10).filter_map(|_| q.try_reserve()).collect::<Vec<_>>()))
                .collect();
            hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(held.len(), 5);
        assert_eq!(q.queue_depth(), 5);
    }

    #[test]
    fn service_time_percentiles_over_a_sliding_sample() {
        let q = BackendQueue::new(Backend::Simd, 1, 1);
        assert_eq!(q.service_percentile(0.5), None);
        for ms in 1..=100 {
            q.record_pass(Duration::from_millis(ms), 1);
        }
        assert_eq!(q.service_percentile(0.5), Some(Duration::from_millis(50)));
        assert_eq!(q.service_percentile(0.99), Some(Duration::from_millis(99)));
        assert_eq!(q.service_percentile(1.0), Some(Duration::from_millis(100)));
        // Only the last 512 count.
        for _ in 0..512 {
            q.record_pass(Duration::from_millis(7), 1);
        }
        assert_eq!(q.service_percentile(0.99), Some(Duration::from_millis(7)));
    }

    #[test]
    fn a_stalled_queue_admits_up_to_twice_its_capacity() {
        let q = BackendQueue::new(Backend::Simd, 2, 1);
        q.record_pass(Duration::from_millis(1), 1);
        q.record_progress();
        let held: Vec<Slot> = (0..2).filter_map(|_| q.try_reserve()).collect();
        assert!(q.try_reserve().is_none() && !q.is_stalled());
        // No progress for more than 4 mean service times: a stall.
        std::thread::sleep(Duration::from_millis(10));
        assert!(q.is_stalled());
        let more: Vec<Slot> = (0..5).filter_map(|_| q.try_reserve()).collect();
        assert_eq!((more.len(), q.queue_depth()), (2, 4));
        // Progress ends the allowance.
        q.record_progress();
        assert!(!q.has_room());
        drop((held, more));
        assert!(!q.is_stalled(), "an empty queue is never stalled");
    }

    #[test]
    fn pass_time_average_and_drain_time() {
        let q = BackendQueue::new(Backend::Simd, 5, 2);
        assert_eq!(q.mean_pass_time(), None);
        assert_eq!(q.load().completion(), None);
        q.record_pass(Duration::from_millis(10), 1);
        assert_eq!(q.mean_pass_time(), Some(Duration::from_millis(10)));
        q.record_pass(Duration::from_millis(20), 1);
        assert_eq!(q.mean_pass_time(), Some(Duration::from_millis(12)));
        let _s = [
            q.try_reserve(),
            q.try_reserve(),
            q.try_reserve(),
            q.try_reserve(),
        ];
        // 4 requests of 12 ms on 2 workers.
        assert_eq!(q.expected_drain_time(), Duration::from_millis(24));
        assert_eq!(q.load().completion(), Some(Duration::from_millis(36)));
    }

    #[test]
    fn a_batched_pass_is_shared_among_its_requests() {
        let q = BackendQueue::new(Backend::Simd, 16, 1);
        // Every pass took 40 ms and answered 8 requests: 5 ms a request.
        for _ in 0..3 {
            q.record_pass(Duration::from_millis(40), 8);
        }
        let _held: Vec<Slot> = (0..16).filter_map(|_| q.try_reserve()).collect();
        let load = q.load();
        assert_eq!(load.per_request(), Some(Duration::from_millis(5)));
        assert_eq!(
            load.drain_time(),
            Duration::from_millis(80),
            "16 × 5 ms, not 16 × 40 ms"
        );
        assert_eq!(load.completion(), Some(Duration::from_millis(120)));
    }
}
