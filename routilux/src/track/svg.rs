//! SVG Gantt chart of a [`RunRecord`]: one lane per thread, one bar per attempt or undo.

use std::fmt::Write;
use std::time::Duration;

use super::timeline::{Outcome, RunRecord, Span};

const WIDTH: f64 = 960.0;
const LABEL: f64 = 110.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 52.0;
const LANE: f64 = 28.0;
const BAR: f64 = 20.0;
const LEGEND: f64 = 40.0;

/// `text` with the five XML special characters escaped, and the characters XML 1.0 cannot
/// hold at all (control characters other than tab, newline and carriage return, U+FFFE and
/// U+FFFF; e.g. the ANSI escapes of a coloured error message) replaced by U+FFFD.
pub(crate) fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\t' | '\n' | '\r' => out.push(c),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn colour(span: &Span) -> &'static str {
    match span.outcome {
        Outcome::Failed | Outcome::UndoFailed => "#d64545",
        Outcome::Retried => "#e8a33d",
        Outcome::Undone | Outcome::Skipped => "#9a9a9a",
        Outcome::Finished | Outcome::Continued if span.critical => "#e4572e",
        Outcome::Finished | Outcome::Continued => "#4c78a8",
    }
}

pub(super) fn write(run: &RunRecord) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_into(&mut out, run);
    out
}

#[allow(clippy::cast_precision_loss)]
fn write_into(out: &mut String, run: &RunRecord) -> std::fmt::Result {
    let lanes = run.lanes.len().max(1);
    let height = TOP + LANE * lanes as f64 + LEGEND;
    let total = millis(run.duration).max(1e-6);
    let plot = WIDTH - LABEL - RIGHT;
    let x = |d: Duration| LABEL + millis(d) / total * plot;
    let status = match &run.error {
        None => "succeeded".to_owned(),
        Some(error) => format!("failed: {error}"),
    };
    let title = format!(
        "flow {} (run {}): {:.3} ms, {status}",
        run.flow, run.id, total
    );
    writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"11\">"
    )?;
    writeln!(out, "<title>{}</title>", xml(&title))?;
    writeln!(
        out,
        "<rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{height}\" fill=\"#ffffff\"/>"
    )?;
    writeln!(
        out,
        "<text x=\"8\" y=\"18\" font-size=\"13\" font-weight=\"bold\">{}</text>",
        xml(&title)
    )?;
    // Time axis: five ticks.
    for k in 0..=4 {
        let at = LABEL + plot * f64::from(k) / 4.0;
        let label = total * f64::from(k) / 4.0;
        writeln!(
            out,
            "<line x1=\"{at:.1}\" y1=\"{:.1}\" x2=\"{at:.1}\" y2=\"{:.1}\" stroke=\"#dddddd\"/>",
            TOP - 8.0,
            TOP + LANE * lanes as f64
        )?;
        writeln!(
            out,
            "<text x=\"{at:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#666666\">{label:.2} ms</text>",
            TOP - 12.0
        )?;
    }
    for (lane, name) in run.lanes.iter().enumerate() {
        let y = TOP + LANE * lane as f64;
        writeln!(
            out,
            "<text x=\"8\" y=\"{:.1}\" fill=\"#333333\">{}</text>",
            y + LANE / 2.0 + 4.0,
            xml(name)
        )?;
        writeln!(
            out,
            "<line x1=\"{LABEL}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#eeeeee\"/>",
            y + LANE,
            WIDTH - RIGHT,
            y + LANE
        )?;
    }
    for span in &run.spans {
        let left = x(span.start);
        let width = (x(span.end()) - left).max(1.0);
        let y = TOP + LANE * span.lane as f64 + (LANE - BAR) / 2.0;
        let tip = format!(
            "{} attempt {}: {:.3} ms, {}{}",
            span.step,
            span.attempt,
            millis(span.duration),
            span.outcome.as_str(),
            if span.critical { ", critical path" } else { "" }
        );
        writeln!(out, "<g><title>{}</title>", xml(&tip))?;
        writeln!(
            out,
            "<rect x=\"{left:.2}\" y=\"{y:.1}\" width=\"{width:.2}\" height=\"{BAR}\" rx=\"3\" fill=\"{}\"/>",
            colour(span)
        )?;
        if width > 7.0 * span.step.chars().count() as f64 + 6.0 {
            writeln!(
                out,
                "<text x=\"{:.2}\" y=\"{:.1}\" fill=\"#ffffff\">{}</text>",
                left + 4.0,
                y + BAR / 2.0 + 4.0,
                xml(&span.step)
            )?;
        }
        writeln!(out, "</g>")?;
    }
    let legend_y = TOP + LANE * lanes as f64 + 18.0;
    let entries = [
        ("#e4572e", "critical path"),
        ("#4c78a8", "step"),
        ("#e8a33d", "retried attempt"),
        ("#d64545", "failed"),
        ("#9a9a9a", "undo"),
    ];
    for (k, (fill, label)) in entries.iter().enumerate() {
        let left = LABEL + 140.0 * k as f64;
        writeln!(
            out,
            "<rect x=\"{left:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" rx=\"2\" fill=\"{fill}\"/>",
            legend_y - 10.0
        )?;
        writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{legend_y:.1}\" fill=\"#333333\">{label}</text>",
            left + 18.0
        )?;
    }
    writeln!(out, "</svg>")
}

#[cfg(test)]
mod tests {
    use super::xml;

    #[test]
    fn xml_escapes_markup() {
        assert_eq!(xml("a<b & \"c\">'"), "a&lt;b &amp; &quot;c&quot;&gt;&apos;");
    }

    #[test]
    fn xml_replaces_what_it_cannot_hold() {
        assert_eq!(
            xml("\u{1b}[31mred\tok\n\u{ffff}"),
            "\u{fffd}[31mred\tok\n\u{fffd}"
        );
    }
}
