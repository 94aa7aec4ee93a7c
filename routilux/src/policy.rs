//! [`Backoff`] and the per-step [`Policy`]: how often a failing step is retried, how long the
//! engine waits in between, and what else the engine must do for the step.

use std::time::Duration;

/// How long to wait before retrying a failed step: a fixed delay, or a delay that grows
/// exponentially up to a cap, each optionally shortened by random jitter.
///
/// Every method is `const`, so a backoff can be written in `#[routine(backoff = ...)]` and in
/// a step's options inside `flow!`:
///
/// ```
/// use std::time::Duration;
/// use routilux::Backoff;
///
/// let backoff = Backoff::exponential(Duration::from_millis(10))
///     .max(Duration::from_millis(50))
///     .jitter(0.0);
/// assert_eq!(backoff.delay(1), Duration::from_millis(10));
/// assert_eq!(backoff.delay(2), Duration::from_millis(20));
/// assert_eq!(backoff.delay(3), Duration::from_millis(40));
/// assert_eq!(backoff.delay(4), Duration::from_millis(50)); // capped
/// ```
///
/// Unusual values are made safe rather than rejected: a factor below 1 or not a number counts
/// as 1, a jitter outside `0.0..=1.0` is clamped (not a number counts as 0), and delays
/// saturate at the cap (without a cap, at about 584 years) instead of overflowing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    base: Duration,
    factor: f64,
    max: Duration,
    jitter: f64,
}

impl Backoff {
    /// Retry at once.
    pub const NONE: Backoff = Backoff::fixed(Duration::ZERO);

    /// The same delay before every retry.
    #[must_use]
    pub const fn fixed(delay: Duration) -> Self {
        Backoff {
            base: delay,
            factor: 1.0,
            max: Duration::MAX,
            jitter: 0.0,
        }
    }

    /// `base` before the first retry, doubling before each next one (see
    /// [`factor`](Self::factor) and [`max`](Self::max)).
    #[must_use]
    pub const fn exponential(base: Duration) -> Self {
        Backoff {
            base,
            factor: 2.0,
            max: Duration::MAX,
            jitter: 0.0,
        }
    }

    /// The growth factor between consecutive delays (2 for [`exponential`](Self::exponential)).
    #[must_use]
    pub const fn factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }

    /// The longest delay.
    #[must_use]
    pub const fn max(mut self, cap: Duration) -> Self {
        self.max = cap;
        self
    }

    /// Random jitter: each delay is shortened by up to this fraction of itself (0 = none,
    /// 1 = "full jitter", anywhere between zero and the delay), so that steps failing together
    /// do not retry in lockstep.
    #[must_use]
    pub const fn jitter(mut self, fraction: f64) -> Self {
        self.jitter = fraction;
        self
    }

    /// The delay before retry number `retry` (1 for the first retry), without jitter: the
    /// longest the engine waits.
    #[must_use]
    pub fn delay(&self, retry: u32) -> Duration {
        let factor = if self.factor >= 1.0 { self.factor } else { 1.0 };
        let exponent = i32::try_from(retry.saturating_sub(1)).unwrap_or(i32::MAX);
        let seconds = self.base.as_secs_f64() * factor.powi(exponent);
        let delay = Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX);
        delay.min(self.max)
    }

    /// The delay before retry `retry` with jitter applied; `unit` is uniform in `[0, 1)`.
    pub(crate) fn jittered(&self, retry: u32, unit: f64) -> Duration {
        let delay = self.delay(retry);
        let jitter = if self.jitter.is_nan() {
            0.0
        } else {
            self.jitter.clamp(0.0, 1.0)
        };
        if jitter == 0.0 {
            return delay;
        }
        delay.mul_f64(1.0 - jitter * unit.clamp(0.0, 1.0))
    }

    /// The jitter fraction as given.
    #[must_use]
    pub const fn get_jitter(&self) -> f64 {
        self.jitter
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::NONE
    }
}

/// What the engine must know about a step beyond its wiring: its retries and backoff, and
/// whether it can be undone, compensates its errors or reads its [`Context`](crate::Context).
///
/// `#[routine]` and [`Step`](crate::Step) implementations declare it; `flow!` may override
/// the retries and backoff of one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Policy {
    retries: u32,
    backoff: Backoff,
    undo_retries: u32,
    undoable: bool,
    compensates: bool,
    context: bool,
}

impl Policy {
    /// No retries, nothing to undo or compensate, no context: the policy of a plain routine.
    pub const NONE: Policy = Policy {
        retries: 0,
        backoff: Backoff::NONE,
        undo_retries: 0,
        undoable: false,
        compensates: false,
        context: false,
    };

    /// Sets how many times a failed step is run again (0: never).
    #[must_use]
    pub const fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Sets the wait before each retry.
    #[must_use]
    pub const fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets how many times a failed undo is run again.
    #[must_use]
    pub const fn undo_retries(mut self, retries: u32) -> Self {
        self.undo_retries = retries;
        self
    }

    #[doc(hidden)]
    #[must_use]
    pub const fn __flags(mut self, undoable: bool, compensates: bool, context: bool) -> Self {
        self.undoable = undoable;
        self.compensates = compensates;
        self.context = context;
        self
    }

    /// How many times a failed step is run again.
    #[must_use]
    pub const fn get_retries(&self) -> u32 {
        self.retries
    }

    /// The wait before each retry.
    #[must_use]
    pub const fn get_backoff(&self) -> Backoff {
        self.backoff
    }

    /// How many times a failed undo is run again.
    #[must_use]
    pub const fn get_undo_retries(&self) -> u32 {
        self.undo_retries
    }

    /// Whether the step is undone when the run fails after it succeeded.
    #[must_use]
    pub const fn is_undoable(&self) -> bool {
        self.undoable
    }

    /// Whether the step decides what happens on its errors (see
    /// [`Compensation`](crate::Compensation)).
    #[must_use]
    pub const fn compensates(&self) -> bool {
        self.compensates
    }

    /// Whether the step reads its [`Context`](crate::Context).
    #[must_use]
    pub const fn uses_context(&self) -> bool {
        self.context
    }

    /// Whether the engine can run the step on its fast path: nothing to retry, undo,
    /// compensate or hand over.
    pub(crate) const fn is_plain(&self) -> bool {
        self.retries == 0 && !self.undoable && !self.compensates && !self.context
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy::NONE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_values_are_made_safe() {
        let b = Backoff::exponential(Duration::from_secs(1)).factor(f64::NAN);
        assert_eq!(b.delay(10), Duration::from_secs(1));
        let b = Backoff::exponential(Duration::from_secs(1)).factor(0.5);
        assert_eq!(b.delay(3), Duration::from_secs(1));
        let b = Backoff::exponential(Duration::from_secs(1));
        assert_eq!(b.delay(u32::MAX), Duration::MAX);
        assert_eq!(b.delay(0), Duration::from_secs(1));
        let b = Backoff::fixed(Duration::from_millis(100)).jitter(7.0);
        assert_eq!(b.jittered(1, 0.5), Duration::from_millis(50));
        let b = Backoff::fixed(Duration::from_millis(100)).jitter(f64::NAN);
        assert_eq!(b.jittered(1, 0.9), Duration::from_millis(100));
        let b = Backoff::fixed(Duration::from_millis(100)).jitter(-1.0);
        assert_eq!(b.jittered(1, 0.9), Duration::from_millis(100));
    }

    #[test]
    fn jitter_shortens_by_at_most_its_fraction() {
        let b = Backoff::fixed(Duration::from_millis(100)).jitter(0.25);
        assert_eq!(b.jittered(1, 0.0), Duration::from_millis(100));
        assert_eq!(b.jittered(1, 1.0), Duration::from_millis(75));
        assert_eq!(b.jittered(1, 0.5), Duration::from_micros(87_500));
    }

    #[test]
    fn exponential_grows_by_its_factor_up_to_the_cap() {
        let b = Backoff::exponential(Duration::from_millis(1))
            .factor(3.0)
            .max(Duration::from_millis(20));
        let delays: Vec<_> = (1..=5).map(|r| b.delay(r).as_millis()).collect();
        assert_eq!(delays, [1, 3, 9, 20, 20]);
    }
}
