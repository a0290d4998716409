//! The connection layer: accepting, per-connection deadlines, a connection
//! cap, and the drain on shutdown.
//!
//! `axum::serve` has no timeouts and no cap, so one client sending headers a
//! byte at a time, or a thousand idle ones, could hold file descriptors for
//! ever and lock everyone else out. Here each connection is a hyper HTTP/1.1
//! connection with a watchdog over three phases:
//!
//! | phase | from | ends | deadline |
//! |---|---|---|---|
//! | head | accept, or the first byte after an idle spell | a request reaches the router | `header_read_timeout` |
//! | busy | a request reaches the router | its response is ready | none here: the handler's body-read timeout and the engine bound it |
//! | idle | the last response | the next byte | `keep_alive_timeout` |
//!
//! A passed deadline closes the connection. Past `max_connections` a new
//! connection is answered `503` and closed at once, so descriptors stay below
//! the process limit. On shutdown the listener closes, every connection is
//! asked to finish its request in flight and close, and whatever is left
//! after `drain_timeout` is dropped.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt;

use crate::config::HttpLimits;

/// Where a connection is in its request cycle (see the module doc).
#[derive(Debug, Clone, Copy)]
enum Phase {
    Head { since: Instant },
    Busy { requests: usize },
    Idle { since: Instant },
}

/// One connection's phase, shared by its reader, its service and its watchdog.
///
/// Phase changes do not wake the watchdog (two task wake-ups per request
/// would cost the intake as much as a refusal does): it wakes at the
/// deadline it last saw, or every [`BUSY_RECHECK`] while a request runs, and
/// re-reads the phase. A deadline therefore fires on time, except that an
/// idle keep-alive connection that starts a head is closed at the later of
/// its head and idle deadlines (both bounded).
#[derive(Debug)]
struct Activity {
    phase: Mutex<Phase>,
}

/// How often the watchdog looks at a connection that has a request running.
const BUSY_RECHECK: Duration = Duration::from_secs(1);

impl Activity {
    fn new() -> Activity {
        Activity {
            phase: Mutex::new(Phase::Head {
                since: Instant::now(),
            }),
        }
    }

    fn update(&self, f: impl FnOnce(Phase) -> Phase) {
        let mut p = self.phase.lock().unwrap_or_else(|e| e.into_inner());
        *p = f(*p);
    }

    /// Bytes arrived: an idle connection starts reading a request head.
    fn on_read(&self) {
        let idle = matches!(
            *self.phase.lock().unwrap_or_else(|e| e.into_inner()),
            Phase::Idle { .. }
        );
        if idle {
            self.update(|p| match p {
                Phase::Idle { .. } => Phase::Head {
                    since: Instant::now(),
                },
                other => other,
            });
        }
    }

    /// A request reached the router; the returned guard marks its end.
    fn start(self: &Arc<Self>) -> InFlight {
        self.update(|p| match p {
            Phase::Busy { requests } => Phase::Busy {
                requests: requests + 1,
            },
            _ => Phase::Busy { requests: 1 },
        });
        InFlight(Arc::clone(self))
    }

    /// When the current phase times out, if it can.
    fn deadline(&self, limits: &HttpLimits) -> Option<Instant> {
        match *self.phase.lock().unwrap_or_else(|e| e.into_inner()) {
            Phase::Head { since } => Some(since + limits.header_read_timeout),
            Phase::Idle { since } => Some(since + limits.keep_alive_timeout),
            Phase::Busy { .. } => None,
        }
    }
}

/// A request in flight on a connection.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.update(|p| match p {
            Phase::Busy { requests } if requests > 1 => Phase::Busy {
                requests: requests - 1,
            },
            _ => Phase::Idle {
                since: Instant::now(),
            },
        });
    }
}

/// Resolves when the connection's current phase outlives its deadline.
async fn watchdog(activity: Arc<Activity>, limits: HttpLimits) {
    loop {
        match activity.deadline(&limits) {
            Some(at) if Instant::now() >= at => return,
            Some(at) => tokio::time::sleep_until(at).await,
            None => tokio::time::sleep(BUSY_RECHECK).await,
        }
    }
}

/// The socket, reporting every read to the connection's [`Activity`].
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.on_read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Counts open connections; one is released when its guard drops.
struct Open(Arc<AtomicUsize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What a connection past the cap is told before it is closed.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
retry-after: 1\r\nconnection: close\r\ncontent-length: 52\r\n\r\n\
{\"error\":\"too many open connections; retry shortly\"}";

/// Serves `router` on `listener` under `limits` until `shutdown` resolves,
/// then drains (see the module doc).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let open = Arc::new(AtomicUsize::new(0));
    let (drain_tx, drain_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    if open.load(Ordering::Acquire) >= limits.max_connections {
                        metrics::counter!("batuta_connections_refused_total").increment(1);
                        // A fresh socket's send buffer takes the whole answer at
                        // once; inline, the descriptor is closed before the next accept.
                        let _ = stream.try_write(BUSY);
                        drop(stream);
                        continue;
                    }
                    open.fetch_add(1, Ordering::AcqRel);
                    let guard = Open(Arc::clone(&open));
                    connections.spawn(connection(stream, router.clone(), limits, drain_rx.clone(), guard));
                }
                Err(e) => {
                    // Out of descriptors (EMFILE) or a connection reset before
                    // accept: wait a little instead of spinning on the error.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
        }
    }
    drop(listener);
    let _ = drain_tx.send(true);
    let left = connections.len();
    let drained = tokio::time::timeout(limits.drain_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            connections = connections.len(),
            of = left,
            "drain deadline passed; closing the connections left"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// One connection, from accept to close.
async fn connection(
    stream: TcpStream,
    router: Router,
    limits: HttpLimits,
    mut drain: watch::Receiver<bool>,
    _open: Open,
) {
    // Responses are small and whole: send them now, not after Nagle's delay.
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        stream,
        activity: Arc::clone(&activity),
    });
    let requests = Arc::clone(&activity);
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let in_flight = requests.start();
        let router = router.clone();
        async move {
            let response = router.oneshot(req.map(Body::new)).await;
            drop(in_flight);
            response
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        // hyper's own header timer would also run while a connection is idle;
        // the watchdog keeps the two deadlines apart.
        .header_read_timeout(None)
        .serve_connection(io, service);
    tokio::pin!(conn);
    let timed_out = watchdog(Arc::clone(&activity), limits);
    tokio::pin!(timed_out);
    let mut draining = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            _ = &mut timed_out => {
                metrics::counter!("batuta_connections_timed_out_total").increment(1);
                return;
            }
            changed = drain.wait_for(|&d| d), if !draining => {
                draining = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}
