//! [`Backoff`]: the wait before each retry of a failed step, fixed or growing exponentially,
//! with optional jitter.

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
}
