//! [`Backoff`] and the per-step [`Policy`]: how often a failing step is retried, how long the
//! engine waits in between, and what else the engine must do for the step.

use crate::limit::Limit;
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
/// saturate at the cap (without a cap, at [`Duration::MAX`]) instead of overflowing. No
/// combination of constructors, modifiers and retry numbers panics.
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
    /// longest the engine waits. Never panics: see the type's notes on unusual values.
    #[must_use]
    pub fn delay(&self, retry: u32) -> Duration {
        // A factor below 1 or NaN counts as 1; +inf stays (and saturates below).
        let factor = if self.factor >= 1.0 { self.factor } else { 1.0 };
        let exponent = i32::try_from(retry.saturating_sub(1)).unwrap_or(i32::MAX);
        if self.base.is_zero() || exponent == 0 || factor == 1.0 {
            return self.base.min(self.max);
        }
        // `base > 0` and `factor > 1` here, so `seconds` is positive, possibly +inf, never
        // NaN; anything a `Duration` cannot hold saturates.
        let seconds = self.base.as_secs_f64() * factor.powi(exponent);
        let delay = Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX);
        delay.max(self.base).min(self.max)
    }

    /// The delay before retry `retry` with jitter applied; `unit` is uniform in `[0, 1)`
    /// (values outside `[0, 1]` are clamped, NaN counts as 0). Never longer than
    /// [`delay`](Self::delay), never panics.
    pub(crate) fn jittered(&self, retry: u32, unit: f64) -> Duration {
        let delay = self.delay(retry);
        let clamp = |x: f64| if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) };
        // In [0, 1]: the fraction of the delay that is kept.
        let keep = 1.0 - clamp(self.jitter) * clamp(unit);
        if keep >= 1.0 || delay.is_zero() {
            return delay;
        }
        // `Duration::mul_f64` panics when the product rounds above `Duration::MAX` (e.g.
        // `Duration::MAX` times `1 - 1e-300`, which is 1.0); keep the delay then.
        Duration::try_from_secs_f64(delay.as_secs_f64() * keep).map_or(delay, |d| d.min(delay))
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
    conditional: bool,
    subflow: bool,
    asynchronous: bool,
    map: bool,
    timeout: Option<Duration>,
    limit: Option<LimitRef>,
}

/// A policy's limit, compared by identity (two policies name the same limit or not).
#[derive(Clone, Copy)]
struct LimitRef(&'static Limit);

impl PartialEq for LimitRef {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl std::fmt::Debug for LimitRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
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
        conditional: false,
        subflow: false,
        asynchronous: false,
        map: false,
        timeout: None,
        limit: None,
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

    /// Sets how long one attempt of an async step may take: past it, the step's future is
    /// dropped and the attempt fails with [`StepTimedOut`](crate::StepTimedOut) (then retries
    /// or compensation apply). Only async steps can be stopped: `flow!` refuses a timeout on
    /// a sync routine.
    #[must_use]
    pub const fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The timeout of one attempt, if any (see [`timeout`](Self::timeout)).
    #[must_use]
    pub const fn get_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Makes the step take a permit of `limit` before it starts (see [`Limit`]); `flow!`
    /// sets it from `#[step(limit = NAME)]` or `#[routine(limit = NAME)]`.
    #[must_use]
    pub const fn limit(mut self, limit: &'static Limit) -> Self {
        self.limit = Some(LimitRef(limit));
        self
    }

    /// The limit the step takes a permit of, if any (see [`limit`](Self::limit)).
    #[must_use]
    pub const fn get_limit(&self) -> Option<&'static Limit> {
        match self.limit {
            Some(LimitRef(limit)) => Some(limit),
            None => None,
        }
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

    /// Marks a conditional step (`step x = f(a) if flag;`): the engine asks it whether it
    /// is skipped before running it.
    #[doc(hidden)]
    #[must_use]
    pub const fn __conditional(mut self) -> Self {
        self.conditional = true;
        self
    }

    /// The policy of a map step (`step ys = f(each xs);`) whose elements run under `self`:
    /// retries, timeouts and compensation apply per element inside the step, so the step
    /// itself is run once, and it reads its context (to stop starting elements when the run
    /// stops). Undo applies to the whole step, element by element, once each.
    #[doc(hidden)]
    #[must_use]
    pub const fn __map_step(mut self) -> Self {
        self.map = true;
        self.retries = 0;
        self.timeout = None;
        self.undo_retries = 0;
        self.compensates = false;
        self.context = true;
        self
    }

    /// Marks a step that runs another flow (a sub-flow): its context carries what the inner
    /// run inherits, and its undo undoes the inner run's completed steps.
    #[doc(hidden)]
    #[must_use]
    pub const fn __subflow(mut self) -> Self {
        self.subflow = true;
        self.context = true;
        self
    }

    /// Marks a step whose routine is an `async fn`: the engine polls its future instead of
    /// calling it on a pool thread.
    #[doc(hidden)]
    #[must_use]
    pub const fn __async(mut self) -> Self {
        self.asynchronous = true;
        self
    }

    /// Whether the step's routine is an `async fn` (see [`run_async`](crate::flow!)).
    #[must_use]
    pub const fn is_async(&self) -> bool {
        self.asynchronous
    }

    /// Whether the step maps its routine over the elements of a value
    /// (`step ys = f(each xs);`).
    #[must_use]
    pub const fn is_map(&self) -> bool {
        self.map
    }

    /// Whether the step runs another flow (`step y = Inner(a, b);`).
    #[must_use]
    pub const fn is_subflow(&self) -> bool {
        self.subflow
    }

    /// Whether the step runs only when its condition holds (`if flag` in `flow!`).
    #[must_use]
    pub const fn is_conditional(&self) -> bool {
        self.conditional
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

    /// How many attempts a step gets in all: its retries plus one, saturating at `u32::MAX`
    /// (so `retries(u32::MAX)` neither overflows nor wraps to zero attempts).
    #[must_use]
    pub const fn attempts(&self) -> u32 {
        self.retries.saturating_add(1)
    }

    /// How many attempts an undo gets in all: its undo retries plus one, saturating at
    /// `u32::MAX`, as [`attempts`](Self::attempts).
    #[must_use]
    pub const fn undo_attempts(&self) -> u32 {
        self.undo_retries.saturating_add(1)
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
        self.retries == 0
            && !self.undoable
            && !self.compensates
            && !self.context
            && !self.asynchronous
            && self.limit.is_none()
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

    /// Extreme values of every knob, in every combination: each delay is a `Duration` (no
    /// panic), the cap holds, and jitter only ever shortens a delay.
    #[test]
    fn every_combination_of_extreme_values_gives_a_duration() {
        let durations = [
            Duration::ZERO,
            Duration::from_nanos(1),
            Duration::from_millis(100),
            Duration::from_secs(u64::MAX / 2),
            Duration::new(u64::MAX, 0),
            Duration::MAX,
        ];
        let floats = [
            f64::NAN,
            -f64::NAN,
            f64::NEG_INFINITY,
            f64::MIN,
            -1.0,
            -0.0,
            0.0,
            f64::MIN_POSITIVE / 2.0, // subnormal
            1e-300,
            0.5,
            1.0 - f64::EPSILON,
            1.0,
            1.0 + f64::EPSILON,
            2.0,
            7.0,
            1e300,
            f64::MAX,
            f64::INFINITY,
        ];
        let units = [
            0.0,
            0.5,
            1.0 - f64::EPSILON,
            1.0,
            -1.0,
            2.0,
            f64::NAN,
            f64::INFINITY,
        ];
        let retries = [
            0,
            1,
            2,
            3,
            64,
            1100,
            i32::MAX as u32,
            u32::MAX - 1,
            u32::MAX,
        ];
        let mut checked = 0_u64;
        for &base in &durations {
            for &cap in &durations {
                for make in [Backoff::fixed, Backoff::exponential] {
                    for &factor in &floats {
                        for &jitter in &floats {
                            let b = make(base).factor(factor).max(cap).jitter(jitter);
                            for &retry in &retries {
                                let delay = b.delay(retry);
                                assert!(delay <= cap, "{b:?} {retry}");
                                if retry <= 1 || factor.is_nan() || factor <= 1.0 {
                                    assert_eq!(delay, base.min(cap), "{b:?} {retry}");
                                }
                                for &unit in &units {
                                    let jittered = b.jittered(retry, unit);
                                    assert!(jittered <= delay, "{b:?} {retry} {unit}");
                                    checked += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(checked, 6 * 6 * 2 * 18 * 18 * 9 * 8);
        // The reported case, and the modifiers in another order.
        let b = Backoff::fixed(Duration::MAX).jitter(1e-300);
        assert_eq!(b.jittered(1, 0.999), Duration::MAX);
        let b = Backoff::exponential(Duration::MAX)
            .jitter(1.0)
            .max(Duration::MAX)
            .factor(f64::INFINITY);
        assert!(b.jittered(u32::MAX, 0.5) <= Duration::MAX);
    }

    #[test]
    fn attempts_saturate() {
        let p = Policy::NONE.retries(u32::MAX).undo_retries(u32::MAX);
        assert_eq!(p.attempts(), u32::MAX);
        assert_eq!(p.undo_attempts(), u32::MAX);
        let p = Policy::NONE.retries(2).undo_retries(0);
        assert_eq!((p.attempts(), p.undo_attempts()), (3, 1));
    }
}
