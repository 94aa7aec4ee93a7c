//! Seeing flows: graph exports (snapshots), the tracker's statistics and bounded history, and
//! run timelines as Chrome trace JSON and SVG.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::{Boom, pool};
use routilux::{Builder, Context, Outcome, RunOptions, Schedule, Step, Tracker, flow, routine};

#[routine]
fn load(n: &u32) -> Vec<u32> {
    (0..*n).collect()
}

#[routine]
fn total(xs: &[u32]) -> u64 {
    xs.iter().map(|&x| u64::from(x)).sum()
}

#[routine]
fn largest(xs: &[u32]) -> u32 {
    xs.iter().copied().max().unwrap_or(0)
}

#[routine(retries = 2)]
fn summary(sum: &u64, max: &u32) -> Result<String, Boom> {
    Ok(format!("sum {sum}, max {max}"))
}

struct Publish;

impl Step for Publish {
    type Args = (String,);
    type Output = usize;
    type Error = Boom;

    fn run((text,): (&String,), _: &Context) -> Result<usize, Boom> {
        Ok(text.len())
    }

    fn undo(_: &usize, _: &Context) -> Result<(), Boom> {
        Ok(())
    }
}

flow! {
    /// Sums and summarises numbers.
    pub flow Numbers {
        input n: u32;
        step xs = load(n);
        /// The sum of every number.
        step sum = total(xs);
        step max = largest(xs);
        step text = summary(sum, max);
        step published = Publish(text);
        return (text, published);
    }
}

/// Compares `actual` with the snapshot file, or rewrites it when `UPDATE_SNAPSHOTS` is set.
fn snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with UPDATE_SNAPSHOTS=1 to create it",
            path.display()
        )
    });
    assert_eq!(
        actual, expected,
        "snapshot {name} differs; UPDATE_SNAPSHOTS=1 rewrites it"
    );
}

#[test]
fn the_graph_describes_the_flow_without_running_it() {
    let graph = Numbers::graph();
    assert_eq!(graph.flow, "Numbers");
    assert_eq!(graph.doc, "Sums and summarises numbers.");
    assert_eq!(Numbers::plan().doc(), "Sums and summarises numbers.");
    assert_eq!(Bumpy::graph().doc, "", "a flow without a doc comment");
    assert_eq!(graph.inputs.len(), 1);
    assert_eq!(
        graph.layers,
        [
            vec!["xs"],
            vec!["sum", "max"],
            vec!["text"],
            vec!["published"]
        ]
    );
    let edges: Vec<(&str, &str)> = graph
        .edges
        .iter()
        .map(|e| (e.from.as_str(), e.to.as_str()))
        .collect();
    assert_eq!(
        edges,
        [
            ("n", "xs"),
            ("xs", "sum"),
            ("xs", "max"),
            ("sum", "text"),
            ("max", "text"),
            ("text", "published")
        ]
    );
    let sum = graph.step("sum").unwrap();
    assert_eq!(
        (sum.routine.as_str(), sum.doc.as_str()),
        ("total", "The sum of every number.")
    );
    let text = graph.step("text").unwrap();
    assert_eq!(
        (text.retries, text.returned, text.undoable),
        (2, true, false)
    );
    let published = graph.step("published").unwrap();
    assert!(published.undoable && published.returned);
    assert!(!graph.step("xs").unwrap().returned);
    assert_eq!(Numbers::graph(), graph, "deterministic");
    // Kept for its undo is not returned.
    let booked = Bumpy::graph().step("booked").unwrap().clone();
    assert!(booked.undoable && !booked.returned, "{booked:?}");
    assert!(!Bumpy::graph().to_mermaid().contains("class s0,"));
}

#[test]
fn dot_and_mermaid_exports_match_their_snapshots() {
    snapshot("numbers.dot", &Numbers::graph().to_dot());
    snapshot("numbers.mmd", &Numbers::graph().to_mermaid());
}

#[test]
fn the_json_export_matches_its_snapshot() {
    let json = serde_json::to_string_pretty(&Numbers::graph()).unwrap();
    snapshot("numbers.json", &(json + "\n"));
}

#[test]
fn exports_escape_names_that_are_not_identifiers() {
    let mut b = Builder::new("Odd \"flow\"");
    let x = b.input::<u32>("in\\put").unwrap();
    let y = b
        .step("say \"hi\" <now> #1", &[x], |a: &[&u32]| {
            Ok::<_, Boom>(*a[0])
        })
        .unwrap();
    b.output(y);
    let graph = b.build().plan().graph();
    let dot = graph.to_dot();
    assert!(dot.starts_with("digraph \"Odd \\\"flow\\\"\" {"), "{dot}");
    assert!(
        dot.contains("\"in\\\\put\" -> \"say \\\"hi\\\" <now> #1\";"),
        "{dot}"
    );
    let mermaid = graph.to_mermaid();
    assert!(
        mermaid.contains("s0[\"say #quot;hi#quot; #lt;now#gt; #35;1<br/>"),
        "{mermaid}"
    );
    assert!(mermaid.contains("i0 --> s0"), "{mermaid}");
}

/// Runs `Numbers` `runs` times on every schedule with `tracker` attached.
fn run_tracked(tracker: &Tracker, runs: u32) {
    for (_, options) in common::schedules() {
        for n in 0..runs {
            Numbers::run_with(options.observer(tracker), n + 1).unwrap();
        }
    }
}

#[test]
fn statistics_match_the_recorded_durations() {
    let tracker = Tracker::new().with_history(1000);
    run_tracked(&tracker, 20);
    assert_eq!(tracker.runs(), 60);
    let history = tracker.history();
    assert_eq!(history.len(), 60);
    let mut durations: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    for run in &history {
        assert_eq!(run.error(), None);
        assert_eq!(run.spans().len(), 5, "one attempt per step");
        for span in run.spans() {
            durations.entry(&span.step).or_default().push(span.duration);
        }
    }
    for (step, mut recorded) in durations {
        let stats = tracker.stats("Numbers", step).unwrap();
        recorded.sort();
        let n = recorded.len();
        let total: Duration = recorded.iter().sum();
        assert_eq!(stats.calls(), n as u64);
        assert_eq!((stats.failures(), stats.retries()), (0, 0));
        assert_eq!(stats.total(), total);
        assert_eq!(stats.min(), recorded[0]);
        assert_eq!(stats.max(), recorded[n - 1]);
        assert_eq!(stats.mean(), total / n as u32);
        // Nearest rank: the ceil(p% of n)-th smallest.
        assert_eq!(stats.p50(), recorded[n.div_ceil(2) - 1]);
        assert_eq!(stats.p99(), recorded[(n * 99).div_ceil(100) - 1]);
    }
    let report = tracker.report().to_string();
    for step in ["xs", "sum", "max", "text", "published"] {
        let row = report
            .lines()
            .find(|l| l.starts_with(&format!("Numbers.{step} ")))
            .unwrap_or_else(|| panic!("no row for {step} in\n{report}"));
        assert_eq!(row.split_whitespace().nth(1), Some("60"), "{row}");
    }
}

#[test]
fn a_tracker_attached_twice_counts_each_attempt_once() {
    let tracker = std::sync::Arc::new(Tracker::new());
    Bumpy::plan().attach_observer(tracker.clone());
    ATTEMPTS.store(0, std::sync::atomic::Ordering::SeqCst);
    let options = RunOptions::from(Schedule::Sequential).observer(&*tracker);
    let result = Bumpy::run_with(options, 1);
    Bumpy::plan().detach_observer();
    result.unwrap_err();
    let bumped = tracker.stats("Bumpy", "bumped").unwrap();
    assert_eq!((bumped.calls(), bumped.retries()), (2, 1));
    let end = tracker.stats("Bumpy", "end").unwrap();
    assert_eq!((end.calls(), end.failures()), (1, 1));
}

#[test]
fn memory_stays_bounded_over_100k_runs() {
    let tracker = Tracker::new().with_history(16).with_samples(32);
    let options = RunOptions::from(Schedule::Sequential).observer(&tracker);
    for n in 0..100_000 {
        Numbers::run_with(options, n % 7).unwrap();
    }
    assert_eq!(tracker.runs(), 100_000);
    assert_eq!(tracker.history().len(), 16);
    let stats = tracker.stats("Numbers", "sum").unwrap();
    assert_eq!(stats.calls(), 100_000);
    assert_eq!(stats.samples(), 32);
    let ids: Vec<u64> = tracker.history().iter().map(|r| r.id()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "oldest first: {ids:?}");
}

static ATTEMPTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

#[routine(retries = 1)]
fn flaky(x: &u32) -> Result<u32, Boom> {
    if ATTEMPTS
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        .is_multiple_of(2)
    {
        Err(Boom("first try"))
    } else {
        Ok(x + 1)
    }
}

#[routine]
fn refuse(_: &u32) -> Result<u32, Boom> {
    Err(Boom("refused"))
}

flow! {
    flow Bumpy {
        input x: u32;
        step booked = Publish(label);
        step label = describe(x);
        step bumped = flaky(x);
        step end = refuse(bumped);
        return end;
    }
}

#[routine]
fn describe(x: &u32) -> String {
    format!("x = {x}")
}

#[test]
fn retries_failures_and_undos_are_on_the_timeline() {
    let tracker = Tracker::new();
    let options = RunOptions::from(Schedule::Sequential).observer(&tracker);
    ATTEMPTS.store(0, std::sync::atomic::Ordering::SeqCst);
    let err = Bumpy::run_with(options, 1).unwrap_err();
    assert_eq!(err.step(), Some("end"));
    let run = tracker.last_run().unwrap();
    assert_eq!(run.error(), Some(err.to_string().as_str()));
    let spans: Vec<(&str, u32, Outcome)> = run
        .spans()
        .iter()
        .map(|s| (s.step.as_str(), s.attempt, s.outcome))
        .collect();
    assert_eq!(
        spans,
        [
            ("label", 1, Outcome::Finished),
            ("bumped", 1, Outcome::Retried),
            ("bumped", 2, Outcome::Finished),
            ("booked", 1, Outcome::Finished),
            ("end", 1, Outcome::Failed),
            ("booked", 1, Outcome::Undone),
        ]
    );
    let bumped = tracker.stats("Bumpy", "bumped").unwrap();
    assert_eq!(
        (bumped.calls(), bumped.retries(), bumped.failures()),
        (2, 1, 0)
    );
    let end = tracker.stats("Bumpy", "end").unwrap();
    assert_eq!((end.calls(), end.failures()), (1, 1));
    // The run ended at `end`, which waited on `bumped`, which waited on the input only.
    assert_eq!(run.critical_path(), ["bumped", "end"]);
}

/// Step bodies long enough that the pool's threads overlap.
#[routine]
fn work(x: &u32) -> u64 {
    let mut acc = u64::from(*x);
    for i in 0..20_000u64 {
        acc = std::hint::black_box(acc.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i));
    }
    acc
}

#[routine]
fn join4(a: &u64, b: &u64, c: &u64, d: &u64) -> u64 {
    a ^ b ^ c ^ d
}

flow! {
    flow Wide {
        input x: u32;
        step a = work(x);
        step b = work(x);
        step c = work(x);
        step d = work(x);
        step e = join4(a, b, c, d);
        return e;
    }
}

/// Nanoseconds from a trace event's microsecond field.
fn ns(value: &serde_json::Value) -> u64 {
    let text = value.to_string();
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, "0"));
    whole.parse::<u64>().unwrap() * 1000 + format!("{fraction:0<3}")[..3].parse::<u64>().unwrap()
}

#[test]
fn the_chrome_trace_has_one_event_per_attempt_and_no_overlap_per_thread() {
    let tracker = Tracker::new();
    for schedule in [Schedule::Layered, Schedule::Dataflow] {
        let options = RunOptions::from(schedule).pool(pool()).observer(&tracker);
        Wide::run_with(options, 3).unwrap();
        let run = tracker.last_run().unwrap();
        let trace: serde_json::Value = serde_json::from_str(&run.to_chrome_trace()).unwrap();
        let events = trace["traceEvents"].as_array().unwrap();
        let complete: Vec<&serde_json::Value> = events.iter().filter(|e| e["ph"] == "X").collect();
        let mut names: Vec<&str> = complete
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["a", "b", "c", "d", "e"], "{schedule:?}");
        let mut by_thread: BTreeMap<u64, Vec<(u64, u64)>> = BTreeMap::new();
        for e in &complete {
            assert_eq!(e["cat"], "step");
            assert_eq!(e["pid"].as_u64(), Some(run.id()));
            let start = ns(&e["ts"]);
            by_thread
                .entry(e["tid"].as_u64().unwrap())
                .or_default()
                .push((start, start + ns(&e["dur"])));
        }
        for (tid, mut spans) in by_thread {
            spans.sort_unstable();
            for pair in spans.windows(2) {
                assert!(pair[0].1 <= pair[1].0, "overlap on thread {tid}: {spans:?}");
            }
            let named = events.iter().any(|e| {
                e["ph"] == "M" && e["name"] == "thread_name" && e["tid"].as_u64() == Some(tid)
            });
            assert!(named, "thread {tid} has a name");
        }
    }
}

/// A strict check of the SVG subset the tracker writes: balanced tags, quoted attributes,
/// no raw `<` or `&` in text.
fn assert_well_formed(xml: &str) {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = xml;
    while let Some(open) = rest.find('<') {
        let text = &rest[..open];
        for (i, _) in text.match_indices('&') {
            let entity = &text[i..text[i..].find(';').map_or(text.len(), |e| i + e + 1)];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].contains(&entity),
                "bad entity {entity:?}"
            );
        }
        let close = rest[open..].find('>').expect("an unclosed tag") + open;
        let tag = &rest[open + 1..close];
        assert!(!tag.contains('<'), "a `<` inside tag {tag:?}");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "mismatched </{name}>");
        } else if !tag.ends_with('/') {
            let name = tag.split_whitespace().next().unwrap().to_owned();
            stack.push(name);
        }
        let attributes = tag
            .split_once(' ')
            .map_or("", |(_, a)| a)
            .trim_end_matches('/');
        assert_eq!(
            attributes.matches('"').count() % 2,
            0,
            "unquoted attribute in {tag:?}"
        );
        rest = &rest[close + 1..];
    }
    assert!(stack.is_empty(), "unclosed {stack:?}");
    assert!(rest.trim().is_empty());
}

#[test]
fn the_svg_gantt_is_well_formed_and_shows_every_attempt() {
    let tracker = Tracker::new();
    let options = RunOptions::from(Schedule::Dataflow)
        .pool(pool())
        .observer(&tracker);
    Wide::run_with(options, 3).unwrap();
    ATTEMPTS.store(0, std::sync::atomic::Ordering::SeqCst);
    Bumpy::run_with(options, 1).unwrap_err();
    for run in tracker.history() {
        let svg = run.to_svg();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert_well_formed(&svg);
        assert_eq!(svg.matches("<g><title>").count(), run.spans().len());
        for lane in run.lanes() {
            assert!(svg.contains(&format!(">{lane}</text>")), "lane {lane}");
        }
        // The legend's swatch and at least one bar in the critical path's colour.
        assert!(svg.matches("fill=\"#e4572e\"").count() >= 2, "{svg}");
    }
}
