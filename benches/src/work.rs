//! Step bodies of the benchmarks. Trivial steps add their arguments through
//! [`std::hint::black_box`]; CPU-bound steps spin on arithmetic for about 100 µs.

use std::hint::black_box;

use routilux::routine;

/// The trivial body, for any number of arguments.
#[inline]
pub fn trivial(args: &[u64]) -> u64 {
    black_box(args.iter().fold(0u64, |a, b| a.wrapping_add(*b))).wrapping_add(1)
}

/// A trivial step without arguments.
#[routine]
pub fn t0() -> u64 {
    black_box(0u64).wrapping_add(1)
}

/// A trivial step with one argument.
#[routine]
pub fn t1(a: &u64) -> u64 {
    black_box(*a).wrapping_add(1)
}

/// A trivial step with two arguments.
#[routine]
pub fn t2(a: &u64, b: &u64) -> u64 {
    black_box(a.wrapping_add(*b)).wrapping_add(1)
}

/// A trivial step with three arguments.
#[routine]
pub fn t3(a: &u64, b: &u64, c: &u64) -> u64 {
    black_box(a.wrapping_add(*b).wrapping_add(*c)).wrapping_add(1)
}

/// A trivial step with four arguments.
#[routine]
pub fn t4(a: &u64, b: &u64, c: &u64, d: &u64) -> u64 {
    black_box(a.wrapping_add(*b).wrapping_add(*c).wrapping_add(*d)).wrapping_add(1)
}

/// Iterations of [`spin`] per 100 µs, measured once on this machine.
pub fn iterations_per_100us() -> u64 {
    static ITERS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *ITERS.get_or_init(|| {
        let probe = 1_000_000;
        let start = std::time::Instant::now();
        black_box(spin(0, probe));
        let ns = start.elapsed().as_nanos().max(1) as u64;
        (probe * 100_000 / ns).max(1)
    })
}

/// About `iterations` rounds of dependent integer arithmetic.
#[inline(never)]
pub fn spin(seed: u64, iterations: u64) -> u64 {
    let mut x = seed | 1;
    for _ in 0..iterations {
        x = black_box(
            x.wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407),
        );
    }
    x
}

/// The CPU-bound body (about 100 µs), for any number of arguments.
pub fn heavy(args: &[u64]) -> u64 {
    spin(trivial(args), iterations_per_100us())
}

/// A CPU-bound step without arguments.
#[routine]
pub fn h0() -> u64 {
    heavy(&[])
}

/// A CPU-bound step with one argument.
#[routine]
pub fn h1(a: &u64) -> u64 {
    heavy(&[*a])
}

/// A CPU-bound step with two arguments.
#[routine]
pub fn h2(a: &u64, b: &u64) -> u64 {
    heavy(&[*a, *b])
}

/// A 10 MB buffer derived from the previous one (memory benchmark).
#[routine]
pub fn buffer(previous: &[u8]) -> Vec<u8> {
    let mut next = vec![previous[0].wrapping_add(1); 10 << 20];
    next[1] = previous[1];
    next
}

/// The first 10 MB buffer.
#[routine]
pub fn first_buffer() -> Vec<u8> {
    vec![1u8; 10 << 20]
}

/// Busy-waits `duration` (a long step), mixing `seed` into what it returns.
pub fn busy(seed: u64, duration: std::time::Duration) -> u64 {
    let until = std::time::Instant::now() + duration;
    let mut x = seed;
    while std::time::Instant::now() < until {
        x = black_box(x.wrapping_mul(31).wrapping_add(7));
    }
    x
}

/// An async step that sleeps `ms` milliseconds on tokio's timer (I/O-like: it holds no
/// thread while it waits).
#[routine]
pub async fn nap(ms: &u64) -> u64 {
    tokio::time::sleep(std::time::Duration::from_millis(*ms)).await;
    black_box(*ms)
}

/// A trivial async step without arguments (it never waits).
#[routine]
pub async fn a0() -> u64 {
    black_box(0u64).wrapping_add(1)
}

/// A trivial async step with one argument (it never waits).
#[routine]
pub async fn a1(a: &u64) -> u64 {
    black_box(*a).wrapping_add(1)
}

/// An async step that waits for `ms` milliseconds after a CPU step, passing its value on.
#[routine]
pub async fn wait_then(a: &u64, ms: &u64) -> u64 {
    tokio::time::sleep(std::time::Duration::from_millis(*ms)).await;
    black_box(*a)
}
