//! The benchmark contenders compute the same thing: on every shape, each routilux schedule,
//! the hand-written sequential calls, both hand-written rayon styles, dag_exec and dagx give
//! the same final value. (Speed is measured by `cargo bench`, never here.)

use routilux::Schedule;
use routilux_benches::contenders::{DagExec, Prepared, dagx_build, dagx_run, tokio_runtime};
use routilux_benches::generated::OVERHEAD;
use routilux_benches::{shapes, work};

#[test]
fn every_contender_computes_the_same_result() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let rt = tokio_runtime(2);
    for (shape, generated) in shapes::overhead_shapes().iter().zip(OVERHEAD) {
        assert_eq!(shape.name, generated.name);
        assert_eq!(shape.len(), generated.steps);
        let want = (generated.sequential)();
        for schedule in [Schedule::Sequential, Schedule::Layered, Schedule::Dataflow] {
            let got = pool.install(|| (generated.run)(schedule.into()));
            assert_eq!(got, want, "{} under {schedule:?}", shape.name);
        }
        let prepared = Prepared::new(shape, work::trivial);
        assert_eq!(
            pool.install(|| prepared.rayon_layers()),
            want,
            "{}",
            shape.name
        );
        assert_eq!(
            pool.install(|| prepared.rayon_counters()),
            want,
            "{}",
            shape.name
        );
        assert_eq!(DagExec::new(&prepared).run(2), want, "{}", shape.name);
        let (dag, last) = dagx_build(shape);
        assert_eq!(dagx_run(&rt, &dag, last), want, "{}", shape.name);
    }
}

#[test]
fn shapes_have_the_documented_sizes() {
    let sizes: Vec<(String, usize)> = shapes::overhead_shapes()
        .into_iter()
        .map(|s| (s.name.clone(), s.len()))
        .collect();
    let expect = [
        ("chain10", 10),
        ("chain100", 100),
        ("chain1000", 1000),
        ("fanout1000", 1 + 1000 + 999),
        ("wave8", 64),
        ("wave32", 1024),
        ("wave64", 4096),
        ("tree10", 1023 + 511),
        ("diamond4", 4),
        ("random32x32", 1024),
    ];
    for ((name, len), (want_name, want_len)) in sizes.iter().zip(expect) {
        assert_eq!((name.as_str(), *len), (want_name, want_len));
    }
    for shape in shapes::overhead_shapes() {
        for (i, deps) in shape.deps.iter().enumerate() {
            assert!(
                deps.len() <= 4 && deps.iter().all(|&d| d < i),
                "{}",
                shape.name
            );
        }
    }
}
