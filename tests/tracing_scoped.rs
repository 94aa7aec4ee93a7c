//! With the `tracing` feature and a subscriber scoped to the calling thread
//! (`tracing::subscriber::with_default`), the step spans made on rayon's worker threads still
//! reach that subscriber, parented to the run's span. (A test binary of its own: no global
//! subscriber is ever set here.)

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::pool;
use routilux::{RunOptions, Schedule, flow, routine};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// A span's name, parent, and how many more times it was entered than exited.
type Seen = (&'static str, Option<u64>, i32);

/// An event: its parent span and message.
type EventSeen = (Option<u64>, String);

/// Records every span.
#[derive(Clone, Default)]
struct Recorder {
    spans: Arc<Mutex<BTreeMap<u64, Seen>>>,
    next: Arc<AtomicU64>,
    /// Events: their parent span and message.
    events: Arc<Mutex<Vec<EventSeen>>>,
}

impl Recorder {
    fn bump(&self, span: &Id, by: i32) {
        if let Some(seen) = self.spans.lock().unwrap().get_mut(&span.into_u64()) {
            seen.2 += by;
        }
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == "routilux"
    }
    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        let parent = attrs.parent().map(Id::into_u64);
        self.spans
            .lock()
            .unwrap()
            .insert(id, (attrs.metadata().name(), parent, 0));
        Id::from_u64(id)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        let parent = event.parent().map(Id::into_u64);
        self.events.lock().unwrap().push((parent, message.0));
    }
    fn enter(&self, span: &Id) {
        self.bump(span, 1);
    }
    fn exit(&self, span: &Id) {
        self.bump(span, -1);
    }
}

#[routine]
fn spin(x: &u64) -> u64 {
    (0..10_000u64).fold(*x, |acc, i| {
        std::hint::black_box(acc.wrapping_mul(31).wrapping_add(i))
    })
}

#[routine]
fn join(a: &u64, b: &u64, c: &u64) -> u64 {
    a ^ b ^ c
}

flow! {
    flow Fan {
        input x: u64;
        step a = spin(x);
        step b = spin(x);
        step c = spin(x);
        step d = join(a, b, c);
        return d;
    }
}

#[test]
fn worker_thread_spans_reach_a_subscriber_scoped_to_the_caller() {
    for schedule in [Schedule::Layered, Schedule::Dataflow] {
        let recorder = Recorder::default();
        let options = RunOptions::from(schedule).pool(pool());
        tracing::subscriber::with_default(recorder.clone(), || Fan::run_with(options, 1)).unwrap();
        let spans = recorder.spans.lock().unwrap().clone();
        let runs: Vec<u64> = spans
            .iter()
            .filter(|(_, s)| s.0 == "flow")
            .map(|(&id, _)| id)
            .collect();
        assert_eq!(runs.len(), 1, "{schedule:?}: {spans:?}");
        let steps: Vec<_> = spans.values().filter(|s| s.0 == "step").collect();
        assert_eq!(steps.len(), 4, "{schedule:?}: {spans:?}");
        for (_, parent, balance) in steps {
            assert_eq!(*parent, Some(runs[0]));
            assert_eq!(*balance, 0, "entered and exited alike");
        }
        assert_eq!(spans[&runs[0]].2, 0);
    }
}

static ONE: routilux::Limit = routilux::Limit::new(1);
static HEARD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Tells the step holding the permit that the other one waits.
struct Heard;

impl routilux::Observer for Heard {
    fn step_waiting(&self, _: &routilux::RunInfo<'_>, _: &routilux::StepPlan) {
        HEARD.store(true, Ordering::SeqCst);
    }
}

/// Holds the only permit until the other step was heard waiting (or runs second).
#[routine(limit = ONE)]
fn holds(x: &u64) -> u64 {
    let start = std::time::Instant::now();
    while !HEARD.load(Ordering::SeqCst) {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "nobody waited"
        );
        std::thread::yield_now();
    }
    *x
}

flow! {
    flow Waits {
        input x: u64;
        step a = holds(x);
        step b = holds(x);
        return (a, b);
    }
}

#[test]
fn the_wait_for_a_permit_is_an_event_of_the_run_outside_the_step_spans() {
    let recorder = Recorder::default();
    let pool = pool();
    let options = RunOptions::new().pool(pool).observer(&Heard);
    let out = tracing::subscriber::with_default(recorder.clone(), || Waits::run_with(options, 3));
    assert_eq!(out.unwrap(), (3, 3));
    let spans = recorder.spans.lock().unwrap().clone();
    let run = spans
        .iter()
        .find(|(_, seen)| seen.0 == "flow")
        .map(|(id, _)| *id)
        .expect("a run span");
    let events = recorder.events.lock().unwrap().clone();
    assert_eq!(events, [(Some(run), "waiting for a permit".to_owned())]);
}
