//! Text statistics over a small built-in corpus, as a routilux flow.
//!
//! Run it with `cargo run --release --example quickstart`. It prints the report, the plan's
//! layers and, from an observer, which steps actually ran at the same time on which thread.
#![deny(warnings, clippy::all, clippy::pedantic)]

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use routilux::{FlowError, Observer, RunInfo, RunOptions, StepPlan, flow, routine};

/// A few paragraphs, repeated to make a corpus worth splitting across threads.
const TEXT: &str = "\
Rust is a language empowering everyone to build reliable and efficient software. \
It is fast and memory efficient with no runtime or garbage collector. \
A rich type system and an ownership model guarantee memory safety and thread safety. \
Rayon makes it easy to convert sequential computations into parallel ones. \
Work stealing keeps every core busy while the program stays easy to read. \
A flow is a graph of steps; independent steps can run at the same time.";

#[routine]
fn load_documents(copies: &usize) -> Vec<String> {
    (0..*copies)
        .map(|i| format!("Document {i}. {TEXT}"))
        .collect()
}

#[routine]
fn tokenize(documents: &[String]) -> Vec<String> {
    documents
        .iter()
        .flat_map(|d| d.split(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty() && !w.chars().all(char::is_numeric))
        .map(str::to_lowercase)
        .collect()
}

#[routine]
fn split_sentences(documents: &[String]) -> Vec<String> {
    documents
        .iter()
        .flat_map(|d| d.split(['.', ';']))
        .map(str::trim)
        .filter(|s| s.contains(' '))
        .map(str::to_owned)
        .collect()
}

#[routine]
fn frequencies(words: &[String]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for word in words {
        *counts.entry(word.clone()).or_insert(0) += 1;
    }
    counts
}

#[routine]
fn longest_word(words: &[String]) -> String {
    words
        .iter()
        .max_by(|a, b| a.len().cmp(&b.len()).then_with(|| b.cmp(a)))
        .cloned()
        .unwrap_or_default()
}

#[routine]
fn mean_sentence_length(sentences: &[String]) -> f64 {
    let words: usize = sentences.iter().map(|s| s.split_whitespace().count()).sum();
    #[allow(clippy::cast_precision_loss)]
    let mean = words as f64 / sentences.len().max(1) as f64;
    mean
}

#[routine]
fn top_words(counts: &BTreeMap<String, usize>) -> Vec<(String, usize)> {
    let mut top: Vec<(String, usize)> = counts
        .iter()
        .filter(|(w, _)| w.len() > 3)
        .map(|(w, n)| (w.clone(), *n))
        .collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    top.truncate(5);
    top
}

#[routine]
fn render(
    words: &[String],
    counts: &BTreeMap<String, usize>,
    top: &[(String, usize)],
    longest: &str,
    mean: &f64,
) -> String {
    let top: Vec<String> = top.iter().map(|(w, n)| format!("{w} ({n})")).collect();
    format!(
        "{} words, {} distinct; longest word: {longest}; {mean:.1} words per sentence\n\
         top words: {}",
        words.len(),
        counts.len(),
        top.join(", ")
    )
}

flow! {
    /// Statistics over a corpus of `copies` documents.
    pub flow TextStats {
        input copies: usize;
        step documents = load_documents(copies);
        step words = tokenize(documents);
        step sentences = split_sentences(documents);
        step counts = frequencies(words);
        step longest = longest_word(words);
        step mean = mean_sentence_length(sentences);
        step top = top_words(counts);
        step report = render(words, counts, top, longest, mean);
        return report;
    }
}

/// Records when and on which rayon thread each step ran.
struct Timeline {
    origin: Instant,
    spans: Mutex<Vec<Span>>,
}

struct Span {
    step: String,
    thread: Option<usize>,
    start: f64,
    end: f64,
}

impl Timeline {
    fn new() -> Self {
        Timeline {
            origin: Instant::now(),
            spans: Mutex::new(Vec::new()),
        }
    }

    fn now_ms(&self) -> f64 {
        self.origin.elapsed().as_secs_f64() * 1e3
    }

    fn spans(&self) -> std::sync::MutexGuard<'_, Vec<Span>> {
        self.spans
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Observer for Timeline {
    fn step_started(&self, _: &RunInfo<'_>, step: &StepPlan, _: u32) {
        let start = self.now_ms();
        self.spans().push(Span {
            step: step.name().to_owned(),
            thread: rayon::current_thread_index(),
            start,
            end: f64::NAN,
        });
    }

    fn step_finished(&self, _: &RunInfo<'_>, step: &StepPlan, _: u32) {
        let end = self.now_ms();
        if let Some(span) = self.spans().iter_mut().find(|s| s.step == step.name()) {
            span.end = end;
        }
    }
}

fn main() -> Result<(), FlowError> {
    let timeline = Timeline::new();
    let report = TextStats::run_with(RunOptions::new().observer(&timeline), 10_000)?;
    println!("{report}\n");

    println!("plan (steps of one layer may run at the same time):");
    for (i, layer) in TextStats::plan().layers().enumerate() {
        let names: Vec<&str> = layer.iter().map(StepPlan::name).collect();
        println!("  layer {i}: {}", names.join(", "));
    }

    println!(
        "\nwhat ran where ({} rayon threads):",
        rayon::current_num_threads()
    );
    let spans = timeline.spans();
    for s in spans.iter() {
        let thread = s
            .thread
            .map_or("caller".to_owned(), |t| format!("thread {t}"));
        println!(
            "  {:<10} {thread:<9} {:>8.2} .. {:>8.2} ms",
            s.step, s.start, s.end
        );
    }
    let mut overlaps = Vec::new();
    for (i, a) in spans.iter().enumerate() {
        for b in &spans[i + 1..] {
            if a.start < b.end && b.start < a.end {
                overlaps.push(format!("{} | {}", a.step, b.step));
            }
        }
    }
    if overlaps.is_empty() {
        println!("\nno two steps overlapped in time (one thread, or they were too quick)");
    } else {
        println!("\nran in parallel: {}", overlaps.join(", "));
    }
    Ok(())
}
