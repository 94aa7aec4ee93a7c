//! "Did you mean ...?" suggestions for misspelled names.

/// The candidate closest to `name`, if it is close enough to be a likely typo, the way rustc's
/// own suggestions choose:
///
/// * a candidate that differs only in case is the best match;
/// * otherwise each candidate gets a score from its edit distance (see [`score`]), which
///   counts a name contained in the other, such as `total` in `total_sum`, as a near miss;
/// * the score may be at most a third of the name's length (at least one); names shorter
///   than three get no suggestion (every one-letter name is one edit from any other).
///
/// Ties go to the smaller plain edit distance, then to the earliest candidate.
pub(crate) fn closest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let length = name.chars().count();
    if length < 3 {
        return None;
    }
    let limit = (length / 3).max(1);
    let lowercase = name.to_lowercase();
    let mut best: Option<((usize, usize), &str)> = None;
    for candidate in candidates {
        if candidate == name {
            continue;
        }
        let rank = if candidate.to_lowercase() == lowercase {
            (0, 0)
        } else {
            let d = distance(name, candidate);
            (score(name, candidate, d), d)
        };
        if rank.0 <= limit && best.is_none_or(|(b, _)| rank < b) {
            best = Some((rank, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// How far `candidate` is from `name`, given their edit distance `d`. When neither is more than
/// twice as long as the other, the edits that only make up the difference in length cost half:
/// and if that is all there is (one name is the other with characters added, as `total` and
/// `total_sum`), the score is 1. Names of very different lengths score their full distance, so
/// that a short name is not found inside any long one (`in` in `shrink`).
fn score(name: &str, candidate: &str, d: usize) -> usize {
    let (a, b) = (name.chars().count(), candidate.chars().count());
    let (short, long) = (a.min(b), a.max(b));
    let length_difference = long - short;
    if long > 2 * short {
        return d;
    }
    // Every edit distance is at least the difference in length.
    let other_edits = d.saturating_sub(length_difference);
    if other_edits == 0 && length_difference > 0 {
        1
    } else {
        other_edits + length_difference.div_ceil(2)
    }
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

    #[test]
    fn a_name_inside_the_other_is_a_near_miss() {
        // What rustc suggests too: the name with a suffix, a prefix, or characters left out.
        assert_eq!(closest("total_sum", ["count", "total"]), Some("total"));
        assert_eq!(closest("total", ["count", "total_sum"]), Some("total_sum"));
        assert_eq!(closest("count", ["sum", "item_count"]), Some("item_count"));
        assert_eq!(closest("ttl", ["total", "sum"]), Some("total"));
        // Plain distance alone would not reach them.
        assert!(distance("total_sum", "total") > "total_sum".len() / 3);
        assert!(distance("count", "item_count") > 1);
    }

    #[test]
    fn a_short_name_is_not_found_inside_a_long_one() {
        assert_eq!(closest("sum", ["sum_of_all_values"]), None);
        assert_eq!(closest("len", ["shrink_length"]), None);
        assert_eq!(closest("in", ["shrink"]), None);
    }

    #[test]
    fn case_is_the_smallest_difference() {
        assert_eq!(closest("TOTAL", ["totals", "total"]), Some("total"));
        assert_eq!(closest("Values", ["valves", "values"]), Some("values"));
    }

    #[test]
    fn ties_go_to_the_smaller_distance_then_the_first() {
        // Both contain or are contained in `total_sum` (score 1); `totals` is fewer edits away.
        assert_eq!(closest("total_sum", ["total", "totals"]), Some("totals"));
        assert_eq!(closest("abcd", ["abce", "abcf"]), Some("abce"));
    }

    #[test]
    fn scores() {
        assert_eq!(score("total_sum", "total", 4), 1);
        assert_eq!(score("valeus", "values", 1), 1);
        // Two more characters and one other edit: 1 + 2 / 2.
        assert_eq!(score("retry", "retries", distance("retry", "retries")), 2);
        assert_eq!(score("sum", "sum_of_all", 7), 7);
    }
}
