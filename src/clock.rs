//! Wall-clock time in Unix seconds, with an offset that tests move forward to see
//! codes and sessions expire without waiting, and a switch that stops it so that
//! pages rendered a second apart can be compared.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

#[derive(Clone, Default)]
pub struct Clock {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    offset_secs: AtomicI64,
    /// The Unix time the clock stands at when stopped; 0 while it runs.
    stopped_at: AtomicI64,
}

impl Clock {
    pub fn now(&self) -> i64 {
        let base = match self.inner.stopped_at.load(Ordering::Relaxed) {
            0 => time::OffsetDateTime::now_utc().unix_timestamp(),
            stopped => stopped,
        };
        base + self.inner.offset_secs.load(Ordering::Relaxed)
    }

    /// Moves this clock (and every copy of it) forward.
    pub fn advance(&self, secs: i64) {
        self.inner.offset_secs.fetch_add(secs, Ordering::Relaxed);
    }

    /// Stops this clock (and every copy of it) at the current second; from then on
    /// only [`Clock::advance`] moves it.
    pub fn stop(&self) {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let _ =
            self.inner
                .stopped_at
                .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_clock_ignores_the_wall_and_moves_only_when_advanced() {
        let clock = Clock::default();
        let copy = clock.clone();
        clock.stop();
        // Put the stop far from the wall clock, so following the wall would show.
        clock.inner.stopped_at.store(1_000_000, Ordering::Relaxed);
        assert_eq!(copy.now(), 1_000_000);
        clock.stop();
        assert_eq!(copy.now(), 1_000_000, "stopping again does not restart it");
        clock.advance(5);
        assert_eq!(copy.now(), 1_000_005);
    }

    #[test]
    fn a_running_clock_follows_the_wall_plus_its_offset() {
        let clock = Clock::default();
        clock.advance(3_600);
        let wall = time::OffsetDateTime::now_utc().unix_timestamp();
        assert!((wall + 3_600..=wall + 3_601).contains(&clock.now()));
    }
}
