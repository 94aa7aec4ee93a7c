//! With the `tracing` feature, a subscriber sees a `flow` span per run and a `step` span per
//! attempt, parented to its run, with the step's name, attempt, outcome and duration.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::{Boom, schedules};
use routilux::{flow, routine};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// One span as the subscriber saw it.
#[derive(Clone, Debug, Default)]
struct Seen {
    name: &'static str,
    parent: Option<u64>,
    fields: BTreeMap<String, String>,
    entered: u32,
    exited: u32,
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

/// Records every span of target `routilux`.
#[derive(Clone, Default)]
struct Recorder {
    spans: Arc<Mutex<BTreeMap<u64, Seen>>>,
    next: Arc<AtomicU64>,
}

impl Subscriber for Recorder {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == "routilux"
    }
    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        let mut seen = Seen {
            name: attrs.metadata().name(),
            parent: attrs.parent().map(Id::into_u64),
            ..Seen::default()
        };
        attrs.record(&mut Fields(&mut seen.fields));
        self.spans.lock().unwrap().insert(id, seen);
        Id::from_u64(id)
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        if let Some(seen) = self.spans.lock().unwrap().get_mut(&span.into_u64()) {
            values.record(&mut Fields(&mut seen.fields));
        }
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, span: &Id) {
        if let Some(seen) = self.spans.lock().unwrap().get_mut(&span.into_u64()) {
            seen.entered += 1;
        }
    }
    fn exit(&self, span: &Id) {
        if let Some(seen) = self.spans.lock().unwrap().get_mut(&span.into_u64()) {
            seen.exited += 1;
        }
    }
}

static CALLS: AtomicU64 = AtomicU64::new(0);

#[routine(retries = 1)]
fn shaky(x: &u32) -> Result<u32, Boom> {
    if CALLS.fetch_add(1, Ordering::SeqCst).is_multiple_of(2) {
        Err(Boom("shaky"))
    } else {
        Ok(x + 1)
    }
}

#[routine]
fn double(x: &u32) -> u32 {
    x * 2
}

flow! {
    flow Traced {
        input x: u32;
        step a = shaky(x);
        step b = double(a);
        step c = double(a);
        return (b, c);
    }
}

#[test]
fn a_subscriber_sees_a_span_per_run_and_per_step_attempt() {
    let recorder = Recorder::default();
    tracing::subscriber::set_global_default(recorder.clone()).unwrap();
    for (schedule, options) in schedules() {
        recorder.spans.lock().unwrap().clear();
        CALLS.store(0, Ordering::SeqCst);
        assert_eq!(Traced::run_with(options, 1).unwrap(), (4, 4));
        let spans = recorder.spans.lock().unwrap().clone();
        let runs: Vec<(&u64, &Seen)> = spans.iter().filter(|(_, s)| s.name == "flow").collect();
        assert_eq!(runs.len(), 1, "{schedule:?}: {spans:?}");
        let (run_id, run) = runs[0];
        assert_eq!(run.fields["flow"], "Traced");
        assert_eq!(run.fields["outcome"], "ok");
        assert!(run.fields.contains_key("duration_us"));
        let mut steps: Vec<(String, String, String)> = spans
            .values()
            .filter(|s| s.name == "step")
            .map(|s| {
                assert_eq!(s.parent, Some(*run_id), "{schedule:?}: parented to the run");
                assert_eq!((s.entered, s.exited), (1, 1));
                assert!(s.fields.contains_key("duration_us"));
                (
                    s.fields["step"].clone(),
                    s.fields["attempt"].clone(),
                    s.fields["outcome"].clone(),
                )
            })
            .collect();
        steps.sort();
        let own = |s: &str, a: &str, o: &str| (s.to_owned(), a.to_owned(), o.to_owned());
        assert_eq!(
            steps,
            [
                own("a", "1", "retried"),
                own("a", "2", "finished"),
                own("b", "1", "finished"),
                own("c", "1", "finished"),
            ],
            "{schedule:?}"
        );
    }
}

/// Pending `times` times before it is ready.
async fn suspend(times: u32) {
    let mut left = times;
    std::future::poll_fn(|cx| {
        if left == 0 {
            std::task::Poll::Ready(())
        } else {
            left -= 1;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await;
}

#[routine]
async fn slow_double(x: &u32) -> u32 {
    suspend(2).await;
    x * 2
}

flow! {
    flow TracedAsync {
        input x: u32;
        step a = slow_double(x);
        step b = double(a);
        return b;
    }
}

#[test]
fn an_async_step_span_is_entered_around_each_poll_and_parented_to_its_run() {
    let recorder = Recorder::default();
    let result = tracing::subscriber::with_default(recorder.clone(), || {
        futures_executor::block_on(TracedAsync::run_async(3))
    });
    assert_eq!(result.unwrap(), 12);
    let spans = recorder.spans.lock().unwrap().clone();
    let (run_id, run) = spans
        .iter()
        .find(|(_, s)| s.name == "flow")
        .expect("a run span");
    assert_eq!(run.fields["outcome"], "ok");
    // The owner of an async run may move between threads: its span is only a parent.
    assert_eq!((run.entered, run.exited), (0, 0));
    let step = |name: &str| {
        spans
            .values()
            .find(|s| s.name == "step" && s.fields["step"] == name)
            .unwrap_or_else(|| panic!("a span for step {name}: {spans:?}"))
            .clone()
    };
    let a = step("a");
    assert_eq!(a.parent, Some(*run_id));
    assert_eq!(a.fields["outcome"], "finished");
    // Three polls: pending twice, then ready.
    assert_eq!((a.entered, a.exited), (3, 3));
    let b = step("b");
    assert_eq!(b.parent, Some(*run_id));
    assert_eq!((b.entered, b.exited), (1, 1));
}
