//! The benchmark shapes built at run time with `routilux::Builder`, with the trivial bodies of
//! [`work`](crate::work): every step typed (one handle or a tuple of handles, as `flow!`
//! passes arguments), or every step taking its arguments as a slice.

use std::convert::Infallible;
use std::hint::black_box;

use routilux::{Builder, DynFlow, Handle};

use crate::shapes::Shape;

/// `shape` with typed arguments: no argument, one handle or a pair (at most two
/// dependencies, as in the builder shapes); returns the flow and its last step, an output.
pub fn typed(shape: &Shape) -> (DynFlow, Handle<u64>) {
    let mut b = Builder::new(shape.name.clone());
    let mut handles: Vec<Handle<u64>> = Vec::with_capacity(shape.len());
    for (i, deps) in shape.deps.iter().enumerate() {
        let name = format!("s{i}");
        let h = match deps[..] {
            [] => b.step(name, (), |()| {
                Ok::<_, Infallible>(black_box(0u64).wrapping_add(1))
            }),
            [a] => b.step(name, handles[a], |a: &u64| {
                Ok::<_, Infallible>(black_box(*a).wrapping_add(1))
            }),
            [a, c] => b.step(name, (handles[a], handles[c]), |(a, c): (&u64, &u64)| {
                Ok::<_, Infallible>(black_box(a.wrapping_add(*c)).wrapping_add(1))
            }),
            _ => panic!("the builder shapes take at most two arguments"),
        };
        handles.push(h.expect("a fresh name"));
    }
    let last = *handles.last().expect("a step");
    b.output(last);
    (b.build(), last)
}

/// `shape` with every step taking its arguments as a slice (`&[&u64]`).
pub fn sliced(shape: &Shape) -> (DynFlow, Handle<u64>) {
    let mut b = Builder::new(shape.name.clone());
    let mut handles: Vec<Handle<u64>> = Vec::with_capacity(shape.len());
    for (i, deps) in shape.deps.iter().enumerate() {
        let deps: Vec<Handle<u64>> = deps.iter().map(|&d| handles[d]).collect();
        let h = b.step(format!("s{i}"), &deps, |args: &[&u64]| {
            Ok::<_, Infallible>(
                black_box(args.iter().fold(0u64, |a, b| a.wrapping_add(**b))).wrapping_add(1),
            )
        });
        handles.push(h.expect("a fresh name"));
    }
    let last = *handles.last().expect("a step");
    b.output(last);
    (b.build(), last)
}
