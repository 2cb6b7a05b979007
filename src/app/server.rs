//! The accept loop and HTTP/1.1 connections, with the limits a service facing the
//! internet needs: a request head must arrive within [`HEAD_WITHIN`] of its first
//! byte, an idle keep-alive connection is closed after [`IDLE_FOR`], the number of
//! open connections stays below the open-file limit (when full, the oldest
//! connection that is not in the middle of a request makes room, so half-sent
//! requests cannot keep `/healthz` out), accept errors back off instead of spinning,
//! and HTTP/2 without TLS is not spoken at all. (A request body must arrive within
//! `BODY_WITHIN` too; the guard, which reads bodies, answers 408.)

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use poem::endpoint::BoxEndpoint;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Addr, Endpoint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::time::{Instant, Sleep};

/// A request head must be whole this long after its first byte.
pub const HEAD_WITHIN: Duration = Duration::from_secs(10);
/// A keep-alive connection with no request in flight is closed after this.
pub const IDLE_FOR: Duration = Duration::from_secs(60);
/// File descriptors kept for the database, SMTP, siteverify and logs.
const RESERVED_FILES: u64 = 64;

/// Where a connection is in its request, as the connection itself sees it.
const IDLE: u8 = 0;
const HEAD: u8 = 1;
const BUSY: u8 = 2;

/// Raises the soft open-file limit to the hard one, and returns how many
/// connections may be open at once under it.
pub fn connection_limit() -> usize {
    let files = raise_open_file_limit().unwrap_or(1024);
    usize::try_from(files.saturating_sub(RESERVED_FILES).max(16)).unwrap_or(usize::MAX)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn raise_open_file_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return None;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    Some(limit.rlim_cur)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn raise_open_file_limit() -> Option<u64> {
    None
}

/// The open connections, oldest first, each with its state and a way to end it.
#[derive(Default)]
struct Open {
    next_id: u64,
    connections: BTreeMap<u64, (Arc<AtomicU8>, Arc<Notify>)>,
}

impl Open {
    /// Ends the oldest connection that is idle or still sending its head; false
    /// when every one is busy with a request.
    fn evict_one(&mut self) -> bool {
        let victim = self
            .connections
            .iter()
            .find(|(_, (state, _))| state.load(Ordering::Acquire) != BUSY)
            .map(|(id, _)| *id);
        match victim.and_then(|id| self.connections.remove(&id)) {
            Some((_, end)) => {
                end.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Serves `ep` on `listener` until `shutdown` turns true, then lets requests in
/// flight finish for up to `grace`.
pub async fn serve(
    listener: TcpListener,
    ep: BoxEndpoint<'static>,
    max_connections: usize,
    mut shutdown: watch::Receiver<bool>,
    grace: Duration,
) {
    let ep = Arc::new(ep);
    let open = Arc::new(Mutex::new(Open::default()));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let local = listener.local_addr().ok();
    let mut backoff = Duration::from_millis(5);
    loop {
        let accepted = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => {
                backoff = Duration::from_millis(5);
                accepted
            }
            Err(e) => {
                // Out of file descriptors, most often: retrying at once would spin a
                // core and fix nothing.
                tracing::error!(error = %e, retry_in_ms = backoff.as_millis() as u64,
                    "cannot accept a connection");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let (state, end, id) = {
            let mut open = open.lock().unwrap_or_else(|e| e.into_inner());
            if open.connections.len() >= max_connections && !open.evict_one() {
                tracing::warn!(%peer, max_connections,
                    "refused a connection: every connection is busy with a request");
                continue;
            }
            let id = open.next_id;
            open.next_id += 1;
            let state = Arc::new(AtomicU8::new(IDLE));
            let end = Arc::new(Notify::new());
            open.connections.insert(id, (state.clone(), end.clone()));
            (state, end, id)
        };
        let _ = stream.set_nodelay(true);
        let conn = connection(stream, peer, local, ep.clone(), state);
        let watched = graceful.watch(conn);
        let open = open.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = watched => {}
                _ = end.notified() => {}
            }
            open.lock()
                .unwrap_or_else(|e| e.into_inner())
                .connections
                .remove(&id);
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running after the grace period were cut off");
    }
}

fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    local: Option<SocketAddr>,
    ep: Arc<BoxEndpoint<'static>>,
    state: Arc<AtomicU8>,
) -> impl hyper_util::server::graceful::GracefulConnection {
    let remote = RemoteAddr(Addr::SocketAddr(peer));
    let local = LocalAddr(local.map_or(Addr::Custom("unknown", "".into()), Addr::SocketAddr));
    let service = hyper::service::service_fn(move |req| {
        let ep = ep.clone();
        let (local, remote) = (local.clone(), remote.clone());
        async move {
            let req = (req, local, remote, poem::http::uri::Scheme::HTTP).into();
            Ok::<_, Infallible>(poem::http::Response::from(ep.get_response(req).await))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    // hyper's own head timer also runs while a keep-alive connection waits for its
    // next request, which would cut idle connections short; `Paced` times heads
    // from their first byte instead, and idleness apart.
    builder.header_read_timeout(None).keep_alive(true);
    builder.serve_connection(TokioIo::new(Paced::new(stream, state)), service)
}

/// A connection's socket, timed: idle for [`IDLE_FOR`] or a head unfinished
/// [`HEAD_WITHIN`] after its first byte ends it with `TimedOut`. It watches the
/// bytes go by: a read that starts while idle starts a head, `\r\n\r\n` ends it,
/// and a write (the answer) makes the connection idle again once the answer is out.
struct Paced {
    io: TcpStream,
    state: Arc<AtomicU8>,
    deadline: Pin<Box<Sleep>>,
    /// The last three bytes of the head so far, to find its end across reads.
    tail: [u8; 3],
    answered: bool,
}

impl Paced {
    fn new(io: TcpStream, state: Arc<AtomicU8>) -> Self {
        Self {
            io,
            state,
            deadline: Box::pin(tokio::time::sleep(IDLE_FOR)),
            tail: [0; 3],
            answered: false,
        }
    }

    fn enter(&mut self, state: u8) {
        self.state.store(state, Ordering::Release);
        match state {
            IDLE => self.deadline.as_mut().reset(Instant::now() + IDLE_FOR),
            HEAD => {
                self.tail = [0; 3];
                self.deadline.as_mut().reset(Instant::now() + HEAD_WITHIN);
            }
            _ => {}
        }
    }

    /// Follows the head through `bytes`, just read.
    fn saw(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if self.state.load(Ordering::Acquire) == IDLE {
            self.answered = false;
            self.enter(HEAD);
        }
        if self.state.load(Ordering::Acquire) != HEAD {
            return;
        }
        // The end of the head may straddle two reads: look across the seam, then
        // within this read.
        let seam = bytes.len().min(3);
        let mut across = [0u8; 6];
        across[..3].copy_from_slice(&self.tail);
        across[3..3 + seam].copy_from_slice(&bytes[..seam]);
        let ended = across[..3 + seam].windows(4).any(|w| w == b"\r\n\r\n")
            || bytes.windows(4).any(|w| w == b"\r\n\r\n");
        if ended {
            self.enter(BUSY);
        } else {
            for &byte in &bytes[bytes.len().saturating_sub(3)..] {
                self.tail = [self.tail[1], self.tail[2], byte];
            }
        }
    }
}

impl AsyncRead for Paced {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                this.saw(&buf.filled()[before..]);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let waiting = this.state.load(Ordering::Acquire) != BUSY || this.answered;
                if waiting && this.deadline.as_mut().poll(cx).is_ready() {
                    let what = match this.state.load(Ordering::Acquire) {
                        HEAD => "a request head that did not arrive in time",
                        _ => "an idle connection",
                    };
                    tracing::debug!("closing {what}");
                    return Poll::Ready(Err(io::ErrorKind::TimedOut.into()));
                }
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for Paced {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let written = ready!(Pin::new(&mut this.io).poll_write(cx, buf))?;
        if written > 0 && !this.answered {
            // The answer is going out: from now the connection waits for the next
            // request, and is idle as far as the limits go.
            this.answered = true;
            this.enter(IDLE);
            // hyper may have asked to read before the answer was ready and will not
            // ask again until the socket wakes it: the deadline must wake it too.
            let _ = this.deadline.as_mut().poll(cx);
        }
        Poll::Ready(Ok(written))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The end of a head is found however the bytes are split across reads.
    #[tokio::test]
    async fn a_head_ends_at_its_blank_line_across_any_split() {
        let head = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        for split in 1..head.len() {
            let (a, b) = head.split_at(split);
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let client = TcpStream::connect(listener.local_addr().unwrap());
            let (client, accepted) = tokio::join!(client, listener.accept());
            let _client = client.unwrap();
            let state = Arc::new(AtomicU8::new(IDLE));
            let mut paced = Paced::new(accepted.unwrap().0, state.clone());
            paced.saw(a);
            assert_eq!(state.load(Ordering::Acquire), HEAD, "split at {split}");
            paced.saw(b);
            assert_eq!(state.load(Ordering::Acquire), BUSY, "split at {split}");
        }
    }
}
