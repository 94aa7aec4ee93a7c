//! Map steps (`each`) against rayon's `par_iter().map().collect()` over the same elements,
//! called from the bench's own thread (not a pool thread), as users call flows: 10,000
//! trivial elements (the overhead per element), 1,000 elements of 10 µs (the makespan
//! against work / threads), and one long element among many short ones. Also a chain with
//! and without `after` edges and a conditional step, for what they cost.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rayon::prelude::*;
use routilux::{flow, routine};
use routilux_benches::work;

#[routine]
fn inc(x: &u64) -> u64 {
    black_box(*x).wrapping_add(1)
}

#[routine]
fn spin(x: &u64) -> u64 {
    // 10 µs, or 5 ms for the element numbered 0 modulo 1,000,000 (the long one).
    let long = *x % 1_000_000 == 999_999;
    work::busy(*x, Duration::from_micros(if long { 5_000 } else { 10 }))
}

flow! {
    flow Trivial {
        input xs: Vec<u64>;
        step ys = inc(each xs);
        return ys;
    }
}

flow! {
    flow Spinning {
        input xs: Vec<u64>;
        step ys = spin(each xs);
        return ys;
    }
}

#[routine]
fn first() -> u64 {
    black_box(1)
}

flow! {
    flow Chain {
        step a = first();
        step b = inc(a);
        step c = inc(b);
        step d = inc(c);
        step e = inc(d);
        return e;
    }
}

flow! {
    // The same chain, with redundant `after` edges and its last step conditional (on `true`).
    flow ChainAfter {
        input on: bool;
        step a = first();
        step b = inc(a) after a;
        step c = inc(b) after a, b;
        step d = inc(c);
        step e = inc(d) if on;
        return e;
    }
}

fn map(c: &mut Criterion) {
    let threads = rayon::current_num_threads();
    let trivial: Vec<u64> = (0..10_000).collect();
    let mut group = c.benchmark_group("map_trivial_10k");
    group.throughput(Throughput::Elements(10_000));
    group.bench_function("routilux-each", |b| {
        b.iter(|| Trivial::run(black_box(trivial.clone())).expect("runs"));
    });
    group.bench_function("rayon-par_iter", |b| {
        b.iter(|| {
            let xs = black_box(trivial.clone());
            xs.par_iter().map(inc).collect::<Vec<u64>>()
        });
    });
    group.finish();

    let spinning: Vec<u64> = (0..1_000).collect();
    let mut group = c.benchmark_group(format!("map_10us_1000_t{threads}"));
    group.throughput(Throughput::Elements(1_000));
    group.bench_function("routilux-each", |b| {
        b.iter(|| Spinning::run(black_box(spinning.clone())).expect("runs"));
    });
    group.bench_function("rayon-par_iter", |b| {
        b.iter(|| {
            let xs = black_box(spinning.clone());
            xs.par_iter().map(spin).collect::<Vec<u64>>()
        });
    });
    group.finish();

    // One 5 ms element (the last) among 999 of 10 µs: the bound is max(5 ms, work / threads).
    let mut one_long = spinning.clone();
    one_long[999] = 999_999;
    let mut group = c.benchmark_group(format!("map_one_long_t{threads}"));
    group.bench_function("routilux-each", |b| {
        b.iter(|| Spinning::run(black_box(one_long.clone())).expect("runs"));
    });
    group.bench_function("rayon-par_iter", |b| {
        b.iter(|| {
            let xs = black_box(one_long.clone());
            xs.par_iter().map(spin).collect::<Vec<u64>>()
        });
    });
    group.finish();

    let mut group = c.benchmark_group("chain5_language");
    group.bench_function("plain", |b| b.iter(|| Chain::run().expect("runs")));
    group.bench_function("after-and-if", |b| {
        b.iter(|| ChainAfter::run(black_box(true)).expect("runs"));
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = map
}
criterion_main!(benches);
