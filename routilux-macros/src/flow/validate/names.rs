//! The names of a flow: its inputs and steps declared once each, every name read resolved to
//! what it refers to, and the messages for names that are not declared (with a suggestion).

use std::collections::BTreeMap;

use syn::Ident;

use super::{Problems, Source};
use crate::flow::ast::{FlowDef, Step};
use crate::suggest::closest;

/// The declared names of a flow.
pub(super) struct Names<'a> {
    flow: &'a Ident,
    /// What each name refers to: its first declaration.
    sources: BTreeMap<String, Source>,
    /// Every declared name, in statement order, for suggestions.
    all: Vec<String>,
}

impl<'a> Names<'a> {
    /// The names of `def`, in statement order; the first declaration of a name wins, the
    /// others are problems.
    pub(super) fn declare(def: &'a FlowDef, problems: &mut Problems) -> Self {
        let mut declared: Vec<(usize, &Ident, Source)> = def
            .inputs
            .iter()
            .enumerate()
            .map(|(i, input)| (input.order, &input.name, Source::Input(i)))
            .chain(
                def.steps
                    .iter()
                    .enumerate()
                    .map(|(i, step)| (step.order, &step.name, Source::Step(i))),
            )
            .collect();
        declared.sort_by_key(|(order, _, _)| *order);
        let mut names: BTreeMap<String, Source> = BTreeMap::new();
        for &(order, ident, source) in &declared {
            let name = ident.to_string();
            match (names.get(&name), source) {
                (None, _) => {
                    names.insert(name, source);
                }
                (Some(Source::Input(_)), Source::Input(_)) => problems.add(
                    (order, 0),
                    ident,
                    format!(
                        "duplicate input `{name}`: an input with this name is already declared"
                    ),
                ),
                (Some(Source::Step(_)), Source::Step(_)) => problems.add(
                    (order, 0),
                    ident,
                    format!("duplicate step `{name}`: a step with this name is already declared"),
                ),
                (Some(Source::Input(_)), Source::Step(_)) => problems.add(
                    (order, 0),
                    ident,
                    format!("step `{name}` has the same name as input `{name}`"),
                ),
                (Some(Source::Step(_)), Source::Input(_)) => problems.add(
                    (order, 0),
                    ident,
                    format!("input `{name}` has the same name as step `{name}`"),
                ),
            }
        }
        let all = declared.iter().map(|(_, i, _)| i.to_string()).collect();
        Names {
            flow: &def.name,
            sources: names,
            all,
        }
    }

    /// The message for a name that no input or step has; `what` is what was expected.
    fn unknown(&self, what: &str, name: &str) -> String {
        let flow = self.flow;
        let mut message =
            format!("unknown {what} `{name}`: no input or step of flow `{flow}` has this name");
        if let Some(close) = closest(name, self.all.iter().map(String::as_str)) {
            message.push_str(&format!("; did you mean `{close}`?"));
        }
        message
    }

    /// What `ident`, read by `step` at token `position` as a `what` (`dependency`, `step` for
    /// `after`, `condition`), refers to; `None` (a problem) when it is not declared or is the
    /// step itself.
    pub(super) fn resolve(
        &self,
        def: &FlowDef,
        step: &Step,
        problems: &mut Problems,
        position: usize,
        ident: &Ident,
        what: &str,
    ) -> Option<Source> {
        let name = ident.to_string();
        match self.sources.get(&name) {
            None => {
                let mut message = self.unknown(what, &name);
                if what == "step" {
                    message = message.replacen(
                        &format!("unknown step `{name}`"),
                        &format!("unknown step `{name}` in `after`"),
                        1,
                    );
                }
                if looks_like_a_constant(&name) {
                    message.push_str(&format!(
                        "; if `{name}` is a constant, write it as a block: `{{ {name} }}`"
                    ));
                }
                problems.add((step.order, position), ident, message);
                None
            }
            Some(&Source::Step(producer)) if def.steps[producer].name == step.name => {
                problems.add(
                    (step.order, position),
                    ident,
                    format!("step `{name}` depends on itself"),
                );
                None
            }
            Some(&source) => Some(source),
        }
    }

    /// The returned names, resolved; names returned twice or not declared are problems.
    pub(super) fn returns(&self, def: &FlowDef, problems: &mut Problems) -> Vec<Source> {
        let mut returns = Vec::new();
        if let Some(ret) = &def.ret {
            let order = usize::MAX;
            for (i, ident) in ret.names.iter().enumerate() {
                let name = ident.to_string();
                if ret.names[..i].contains(ident) {
                    problems.add((order, i), ident, format!("`{name}` is returned twice"));
                } else if let Some(&source) = self.sources.get(&name) {
                    returns.push(source);
                } else {
                    problems.add(
                        (order, i),
                        ident,
                        self.unknown("name", &name).replacen(
                            "unknown name",
                            "`return` of unknown name",
                            1,
                        ),
                    );
                }
            }
        }
        returns
    }
}

/// Whether `name` is written like a constant (`MAX`, `RATE_2`): upper case, at least two
/// characters.
fn looks_like_a_constant(name: &str) -> bool {
    name.len() > 1
        && name.chars().any(|c| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::super::check_src;

    #[test]
    fn suggests_close_names_among_inputs_and_steps() {
        let errors =
            check_src("flow F { input values: u64; step total = f(valeus); return totl; }")
                .unwrap_err();
        assert!(
            errors[0].ends_with("did you mean `values`?"),
            "{}",
            errors[0]
        );
        assert!(
            errors[1].ends_with("did you mean `total`?"),
            "{}",
            errors[1]
        );
    }
}
