//! Where log lines go: stderr, in batches. A line is copied into a buffer where it
//! is made, and a thread of its own writes the buffer out every few milliseconds,
//! so a request never waits on a `write` to stderr and no thread is woken per line.
//! A full buffer is written out at once by whoever filled it, so a flood of lines
//! slows the loggers down instead of being dropped.

use std::io::{self, BufWriter, Stderr, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long a line may wait in the buffer.
const FLUSH_EVERY: Duration = Duration::from_millis(50);
const BUFFER_BYTES: usize = 64 * 1024;

#[derive(Clone)]
pub struct BatchedStderr {
    shared: Arc<Shared>,
}

struct Shared {
    out: Mutex<BufWriter<Stderr>>,
    stopping: AtomicBool,
}

/// Writes out what is still buffered when dropped; keep it until the process ends.
pub struct FlushOnDrop {
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
}

impl BatchedStderr {
    pub fn start() -> (Self, FlushOnDrop) {
        let shared = Arc::new(Shared {
            out: Mutex::new(BufWriter::with_capacity(BUFFER_BYTES, io::stderr())),
            stopping: AtomicBool::new(false),
        });
        let flusher = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("doorcode-log".into())
                .spawn(move || {
                    while !shared.stopping.load(Ordering::Relaxed) {
                        std::thread::park_timeout(FLUSH_EVERY);
                        let _ = shared.lock().flush();
                    }
                })
        };
        let guard = FlushOnDrop {
            shared: shared.clone(),
            // Without the thread, lines still go out when the buffer fills and at exit.
            flusher: flusher.ok(),
        };
        (Self { shared }, guard)
    }
}

impl Shared {
    /// The buffer, even if a thread panicked while holding it: a log line is never
    /// worth a second panic.
    fn lock(&self) -> MutexGuard<'_, BufWriter<Stderr>> {
        self.out
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for FlushOnDrop {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::Relaxed);
        if let Some(flusher) = self.flusher.take() {
            flusher.thread().unpark();
            let _ = flusher.join();
        }
        let _ = self.shared.lock().flush();
    }
}

/// One line's writer: the subscriber formats a whole line, then writes it here once.
pub struct Line<'a>(&'a Shared);

impl Write for Line<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchedStderr {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        Line(&self.shared)
    }
}
