//! "Did you mean ...?" suggestions for misspelled names.

/// The candidate closest to `name` by edit distance, if it is close enough to be a likely
/// typo: one edit for names of three to five characters, a third of the length for longer
/// ones, none for names shorter than three (every one-letter name is one edit from any other).
/// Ties go to the earliest candidate.
pub(crate) fn closest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let length = name.chars().count();
    if length < 3 {
        return None;
    }
    let limit = (length / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        if candidate == name {
            continue;
        }
        let d = distance(name, candidate);
        if d <= limit && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// Levenshtein distance, counting a swap of two adjacent characters as one edit.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        prev2 = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("values", "values"), 0);
        assert_eq!(distance("valeus", "values"), 1);
        assert_eq!(distance("vlues", "values"), 1);
        assert_eq!(distance("sum", "max"), 3);
        assert_eq!(distance("", "abc"), 3);
    }

    #[test]
    fn suggests_only_close_names() {
        let names = ["values", "sum", "max", "report"];
        assert_eq!(closest("valeus", names), Some("values"));
        assert_eq!(closest("sun", names), Some("sum"));
        assert_eq!(closest("reprot", names), Some("report"));
        assert_eq!(closest("totally_else", names), None);
        assert_eq!(closest("values", names), None);
        assert_eq!(closest("y", ["x", "z"]), None);
    }
}
