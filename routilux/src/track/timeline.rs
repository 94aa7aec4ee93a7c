//! [`RunRecord`]: one run as a timeline of spans on thread lanes, exported as Chrome trace
//! event JSON (Perfetto, `chrome://tracing`) and as an SVG Gantt chart.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt::Write;
use std::time::{Duration, SystemTime};

use crate::plan::Plan;

/// How an attempt or an undo on the timeline ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// The step succeeded.
    Finished,
    /// The step failed and its compensation continued with a replacement value.
    Continued,
    /// The attempt failed and the step was retried.
    Retried,
    /// The step failed for good.
    Failed,
    /// The step was undone.
    Undone,
    /// An attempt to undo the step failed.
    UndoFailed,
    /// The step's condition was false: it did not run (a span of zero length).
    Skipped,
}

impl Outcome {
    /// A lowercase word for the outcome: `finished`, `continued`, `retried`, `failed`,
    /// `undone`, `undo-failed`, `skipped`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Finished => "finished",
            Outcome::Continued => "continued",
            Outcome::Retried => "retried",
            Outcome::Failed => "failed",
            Outcome::Undone => "undone",
            Outcome::UndoFailed => "undo-failed",
            Outcome::Skipped => "skipped",
        }
    }

    /// Whether the span is an undo rather than an attempt of the step.
    #[must_use]
    pub fn is_undo(self) -> bool {
        matches!(self, Outcome::Undone | Outcome::UndoFailed)
    }
}

/// One attempt of a step, or one undo, on a thread lane.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Span {
    /// The step's name.
    pub step: String,
    /// The step's index in the plan.
    pub index: usize,
    /// The lane (thread) it ran on: an index into [`RunRecord::lanes`].
    pub lane: usize,
    /// When it started, from the start of the run.
    pub start: Duration,
    /// How long it took.
    pub duration: Duration,
    /// The attempt number (from 1).
    pub attempt: u32,
    /// How it ended.
    pub outcome: Outcome,
    /// Whether the step lies on the run's critical path (see [`RunRecord::critical_path`]).
    pub critical: bool,
}

impl Span {
    /// When it ended, from the start of the run.
    #[must_use]
    pub fn end(&self) -> Duration {
        self.start + self.duration
    }
}

/// One finished run, as seen by a [`Tracker`](super::Tracker).
#[derive(Clone, Debug)]
pub struct RunRecord {
    pub(crate) id: u64,
    pub(crate) flow: String,
    pub(crate) started_at: SystemTime,
    pub(crate) duration: Duration,
    pub(crate) error: Option<String>,
    pub(crate) spans: Vec<Span>,
    pub(crate) lanes: Vec<String>,
}

impl RunRecord {
    /// The run's id (see [`RunInfo::id`](crate::RunInfo::id)).
    #[must_use]
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The flow's name.
    #[must_use]
    pub fn flow(&self) -> &str {
        &self.flow
    }

    /// When the run started, by the wall clock.
    #[must_use]
    pub fn started_at(&self) -> SystemTime {
        self.started_at
    }

    /// How long the run took, undo included.
    #[must_use]
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// The run's error, displayed; `None` if it succeeded.
    #[must_use]
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Every attempt and undo, in the order they ended.
    #[must_use]
    pub fn spans(&self) -> &[Span] {
        &self.spans
    }

    /// The thread lanes, labelled `worker N` (the thread's index in its rayon pool), or by
    /// thread name, or `caller` for an unnamed thread outside rayon. Workers come first, by
    /// index.
    #[must_use]
    pub fn lanes(&self) -> &[String] {
        &self.lanes
    }

    /// The steps of the critical path, first to last: from the step that ended last, back
    /// through the dependency of each that ended last. Takes `O(n log n)` for `n` spans.
    #[must_use]
    pub fn critical_path(&self) -> Vec<&str> {
        // Each step once, at the start of its first critical span; steps are told apart by
        // their plan index (one name per index).
        let mut path: Vec<(Duration, &str)> = Vec::new();
        let mut position: HashMap<usize, usize> = HashMap::new();
        for span in self.spans.iter().filter(|s| s.critical) {
            match position.entry(span.index) {
                Entry::Occupied(at) => {
                    let entry = &mut path[*at.get()];
                    entry.0 = entry.0.min(span.start);
                }
                Entry::Vacant(at) => {
                    at.insert(path.len());
                    path.push((span.start, &span.step));
                }
            }
        }
        path.sort_unstable();
        path.into_iter().map(|(_, name)| name).collect()
    }

    /// The run as Chrome trace event JSON: one complete (`"ph": "X"`) event per attempt or
    /// undo, on one track per thread. Open it in <https://ui.perfetto.dev> or
    /// `chrome://tracing`.
    #[must_use]
    pub fn to_chrome_trace(&self) -> String {
        let mut out = String::from("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n");
        let pid = self.id;
        let _ = write!(
            out,
            "{{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":{pid},\"tid\":0,\"args\":{{\"name\":{}}}}}",
            json_string(&format!("flow {} (run {})", self.flow, self.id))
        );
        for (tid, lane) in self.lanes.iter().enumerate() {
            let _ = write!(
                out,
                ",\n{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":{pid},\"tid\":{tid},\"args\":{{\"name\":{}}}}}",
                json_string(lane)
            );
        }
        for span in &self.spans {
            let category = if span.outcome.is_undo() {
                "undo"
            } else {
                "step"
            };
            let _ = write!(
                out,
                ",\n{{\"name\":{},\"cat\":\"{category}\",\"ph\":\"X\",\"ts\":{},\"dur\":{},\"pid\":{pid},\"tid\":{},\"args\":{{\"attempt\":{},\"outcome\":\"{}\",\"critical\":{}}}}}",
                json_string(&span.step),
                micros(span.start),
                micros(span.duration),
                span.lane,
                span.attempt,
                span.outcome.as_str(),
                span.critical
            );
        }
        out.push_str("\n]}\n");
        out
    }

    /// The run as a self-contained SVG Gantt chart: steps as bars on thread lanes, the
    /// critical path highlighted, retried and failed attempts and undos in their own colours.
    #[must_use]
    pub fn to_svg(&self) -> String {
        super::svg::write(self)
    }
}

/// Marks the spans of the steps on the critical path: from the step attempt that ended last,
/// back through the dependency that ended last, until a step without step dependencies.
pub(crate) fn mark_critical(spans: &mut [Span], plan: &Plan) {
    let steps = plan.steps();
    let inputs = plan.input_count();
    let mut end = vec![None::<Duration>; steps.len()];
    for span in spans.iter().filter(|s| !s.outcome.is_undo()) {
        if let Some(e) = end.get_mut(span.index) {
            *e = Some(e.map_or(span.end(), |old: Duration| old.max(span.end())));
        }
    }
    let last = end
        .iter()
        .enumerate()
        .filter_map(|(i, e)| e.map(|e| (e, i)))
        .max();
    let mut on_path = vec![false; steps.len()];
    let mut current = last.map(|(_, i)| i);
    while let Some(i) = current {
        on_path[i] = true;
        current = steps[i]
            .reads()
            .iter()
            .filter_map(|&slot| (slot as usize).checked_sub(inputs))
            .filter_map(|dep| end.get(dep).copied().flatten().map(|e| (e, dep)))
            .max()
            .map(|(_, dep)| dep);
    }
    for span in spans {
        span.critical = !span.outcome.is_undo() && on_path.get(span.index) == Some(&true);
    }
}

/// A duration in microseconds with nanosecond precision, as JSON wants it.
fn micros(d: Duration) -> String {
    let ns = d.as_nanos();
    format!("{}.{:03}", ns / 1000, ns % 1000)
}

/// `text` as a JSON string literal.
pub(crate) fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_escape_what_json_requires() {
        assert_eq!(
            json_string("a\"b\\c\nd\u{1}é"),
            "\"a\\\"b\\\\c\\nd\\u0001é\""
        );
    }

    #[test]
    fn microseconds_keep_nanoseconds() {
        assert_eq!(micros(Duration::from_nanos(1_234_567)), "1234.567");
        assert_eq!(micros(Duration::from_nanos(5)), "0.005");
    }

    fn span(step: &str, index: usize, start_ms: u64, outcome: Outcome, critical: bool) -> Span {
        Span {
            step: step.to_owned(),
            index,
            lane: 0,
            start: Duration::from_millis(start_ms),
            duration: Duration::from_millis(1),
            attempt: 1,
            outcome,
            critical,
        }
    }

    fn record(spans: Vec<Span>) -> RunRecord {
        RunRecord {
            id: 1,
            flow: "F".to_owned(),
            started_at: SystemTime::UNIX_EPOCH,
            duration: Duration::from_secs(1),
            error: None,
            spans,
            lanes: vec!["caller".to_owned()],
        }
    }

    #[test]
    fn critical_path_lists_each_critical_step_once_by_first_start() {
        let run = record(vec![
            span("a", 0, 0, Outcome::Finished, true),
            span("side", 1, 0, Outcome::Finished, false),
            span("b", 2, 5, Outcome::Retried, true),
            span("d", 4, 9, Outcome::Finished, true),
            span("b", 2, 7, Outcome::Finished, true),
            span("c", 3, 2, Outcome::Finished, true),
            span("b", 2, 20, Outcome::Undone, false),
        ]);
        assert_eq!(run.critical_path(), ["a", "c", "b", "d"]);
        assert!(record(Vec::new()).critical_path().is_empty());
    }

    /// A 100k-step chain (every step retried once, spans in the order they ended, plus a
    /// non-critical side step per step): the path is the chain, in order. This took tens of
    /// seconds when each span searched the path so far.
    #[test]
    fn critical_path_of_a_long_run() {
        const N: usize = 100_000;
        let names: Vec<String> = (0..N).map(|i| format!("s{i}")).collect();
        let mut spans = Vec::with_capacity(3 * N);
        for (i, name) in names.iter().enumerate() {
            let t = 10 * i as u64;
            spans.push(span(name, 2 * i, t, Outcome::Retried, true));
            spans.push(span("side", 2 * i + 1, t, Outcome::Finished, false));
            spans.push(span(name, 2 * i, t + 2, Outcome::Finished, true));
        }
        let run = record(spans);
        let path = run.critical_path();
        assert_eq!(path.len(), N);
        assert!(path.iter().zip(&names).all(|(p, n)| p == n));
    }
}
