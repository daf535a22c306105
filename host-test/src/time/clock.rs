//! The one clock every part of the host keeps time with: the delivery engine (the time it
//! hands the component, the waits between attempts), the dispatcher, the API and the
//! scheduler's timer. Production uses [`SystemClock`]; tests substitute a clock whose
//! sleeps return at once and whose time they set.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::contract::bindings::Instant;

/// A boxed future, as the clock's asynchronous sleep returns it.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

pub use crate::limits::MAX_SLEEP;

/// Time, and waiting.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Instant;
    /// Wait `duration` without blocking a thread (the delivery engine's waits).
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
    /// Block this thread until `t`, or a little earlier (at most [`MAX_SLEEP`]): a
    /// caller reads [`Clock::now`] again after every wake, so waking early is harmless.
    fn block_until(&self, t: Instant) {
        let wait = since(t, self.now()).min(MAX_SLEEP);
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }
}

/// The machine's clock and Tokio's timer.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Instant {
            seconds: d.as_secs() as i64,
            nanoseconds: d.subsec_nanos(),
        }
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// An instant plus a duration.
pub fn add(i: Instant, d: Duration) -> Instant {
    let nanos = i.nanoseconds as u64 + d.subsec_nanos() as u64;
    Instant {
        seconds: i.seconds + d.as_secs() as i64 + (nanos / 1_000_000_000) as i64,
        nanoseconds: (nanos % 1_000_000_000) as u32,
    }
}

/// `a - b`, zero when `a` is not after `b`.
pub fn since(a: Instant, b: Instant) -> Duration {
    let an = a.seconds as i128 * 1_000_000_000 + a.nanoseconds as i128;
    let bn = b.seconds as i128 * 1_000_000_000 + b.nanoseconds as i128;
    Duration::from_nanos(u64::try_from((an - bn).max(0)).unwrap_or(u64::MAX))
}

/// Unix milliseconds on `clock`.
pub fn now_ms(clock: &dyn Clock) -> i64 {
    crate::time::instant::to_ms(clock.now())
}
