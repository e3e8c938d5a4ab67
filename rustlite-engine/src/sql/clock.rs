//! The slow-query timer's clock.
//!
//! Every statement is timed when slow queries are logged (the default threshold is 1 s), so
//! the two clock reads weigh on a microsecond point query. A threshold of 10 ms or more is
//! measured with Linux's coarse monotonic clock (`CLOCK_MONOTONIC_COARSE`: the time of the
//! last timer tick, a few ns to read, within ~4 ms of the precise one); a smaller threshold,
//! or another system, with [`Instant`].

use std::time::{Duration, Instant};

/// Thresholds from this one up are measured with the coarse clock.
const COARSE_FROM: Duration = Duration::from_millis(10);

/// A running timer; see the module docs.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Stopwatch {
    Precise(Instant),
    Coarse(Duration),
}

impl Stopwatch {
    /// A timer started now, reading the clock `threshold` needs.
    pub(crate) fn start(threshold: Duration) -> Stopwatch {
        if threshold >= COARSE_FROM {
            if let Some(now) = coarse_now() {
                return Stopwatch::Coarse(now);
            }
        }
        Stopwatch::Precise(Instant::now())
    }

    /// The time since [`Stopwatch::start`].
    pub(crate) fn elapsed(&self) -> Duration {
        match self {
            Stopwatch::Precise(started) => started.elapsed(),
            Stopwatch::Coarse(started) => coarse_now()
                .map(|now| now.saturating_sub(*started))
                .unwrap_or_default(),
        }
    }
}

/// The coarse monotonic clock (None if it cannot be read).
#[cfg(target_os = "linux")]
fn coarse_now() -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    if rc != 0 {
        return None;
    }
    let secs = u64::try_from(ts.tv_sec).ok()?;
    let nanos = u32::try_from(ts.tv_nsec).ok()?;
    Some(Duration::new(secs, nanos))
}

/// No coarse clock elsewhere: [`Instant`] is used.
#[cfg(not(target_os = "linux"))]
fn coarse_now() -> Option<Duration> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_thresholds_use_the_precise_clock() {
        assert!(matches!(
            Stopwatch::start(Duration::ZERO),
            Stopwatch::Precise(_)
        ));
        assert!(matches!(
            Stopwatch::start(Duration::from_millis(9)),
            Stopwatch::Precise(_)
        ));
    }

    #[test]
    fn the_coarse_clock_measures_a_sleep() {
        let watch = Stopwatch::start(Duration::from_secs(1));
        if cfg!(target_os = "linux") {
            assert!(matches!(watch, Stopwatch::Coarse(_)));
        }
        std::thread::sleep(Duration::from_millis(30));
        let elapsed = watch.elapsed();
        // Within a few timer ticks of the 30 ms slept.
        assert!(elapsed >= Duration::from_millis(20), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    }
}
