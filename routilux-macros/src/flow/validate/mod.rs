//! Checks a parsed flow and computes its plan: names resolve, no duplicates, no cycles.
//!
//! Every problem is collected (not just the first), sorted by its position in the source and
//! combined into one `syn::Error`, one message per problem, each at the offending token. The
//! checks run in this order, which is also the order of problems at the same position: the
//! steps' attributes and options (here), the names ([`names`]), the steps' arguments, `after`
//! names and conditions ([`resolve`]), cycles ([`cycles`]) and the returned names; then a
//! valid flow is planned ([`plan`]).

mod cycles;
mod names;
mod plan;
mod resolve;

use syn::Ident;

use self::names::Names;
use self::resolve::Resolved;
use super::ast::{Arg, FlowDef};

/// What a name refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// The input with this declaration index.
    Input(usize),
    /// The step with this declaration index.
    Step(usize),
}

/// One argument of a step's call, resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArgRef {
    /// `&` of this input's or step's value.
    Value(Source),
    /// One element of this input's or step's value per call (a map step).
    Each(Source),
    /// The constant written as the call's argument with this index.
    Const(usize),
}

/// A valid flow's plan. Steps are numbered in plan order (by layer, then declaration); slots
/// are the inputs, then the steps in plan order.
#[derive(Debug)]
pub(crate) struct Checked {
    /// Declaration index of the step at each plan position.
    pub order: Vec<usize>,
    /// Arguments of each step (declaration index), resolved, in call order.
    pub args: Vec<Vec<ArgRef>>,
    /// The condition of each step (declaration index): the `bool` and whether it is negated.
    pub conditions: Vec<Option<(Source, bool)>>,
    /// Per plan position: distinct step dependencies.
    pub deps: Vec<u32>,
    /// Per plan position: distinct slots read, ascending.
    pub reads: Vec<Vec<u32>>,
    /// Per plan position: distinct successor positions, ascending.
    pub succs: Vec<Vec<u32>>,
    /// Per slot: distinct consuming steps, and whether `run` returns it.
    pub slots: Vec<(u32, bool)>,
    /// Start of each layer, then the number of steps.
    pub layers: Vec<u32>,
    /// The returned names, resolved.
    pub returns: Vec<Source>,
}

/// Problems keyed by position: (statement, token within the statement).
struct Problems(Vec<((usize, usize), syn::Error)>);

impl Problems {
    fn add(&mut self, key: (usize, usize), token: &Ident, message: String) {
        self.0.push((key, syn::Error::new(token.span(), message)));
    }

    /// Every problem, in source order, as one error; `Ok` when there are none.
    fn finish(mut self) -> Result<(), syn::Error> {
        if self.0.is_empty() {
            return Ok(());
        }
        self.0.sort_by_key(|(key, _)| *key);
        let mut errors = self.0.into_iter().map(|(_, e)| e);
        let mut combined = errors.next().expect("at least one problem");
        for error in errors {
            combined.combine(error);
        }
        Err(combined)
    }
}

/// Checks `def`; on success returns its plan, otherwise every problem found.
pub(crate) fn check(def: &FlowDef) -> Result<Checked, syn::Error> {
    let mut problems = Problems(Vec::new());
    step_problems(def, &mut problems);
    let names = Names::declare(def, &mut problems);
    let resolved = resolve::steps(def, &names, &mut problems);
    cycles::report(def, &resolved, &mut problems);
    let returns = names.returns(def, &mut problems);
    problems.finish()?;
    let Resolved {
        graph,
        args,
        afters,
        conditions,
        ..
    } = resolved;
    Ok(plan::plan(def, &graph, args, &afters, conditions, &returns))
}

/// The problems of each step on its own: its attributes, a step that runs the flow itself,
/// and map options on a step that maps over nothing.
fn step_problems(def: &FlowDef, problems: &mut Problems) {
    let flow = &def.name;
    for step in &def.steps {
        for error in &step.errors {
            problems.0.push(((step.order, 0), error.clone()));
        }
        if step.routine.is_ident(flow) {
            let token = &step.routine.segments[0].ident;
            problems.add(
            (step.order, 0),
            token,
            format!(
                "flow `{flow}` contains itself: step `{}` runs flow `{flow}`, which would run it again",
                step.name
            ),
        );
        }
        if !step.args.iter().any(|a| matches!(a, Arg::Each(_))) {
            for (key, _) in &step.options.list {
                if key == "batch" || key == "max_concurrency" {
                    problems.add(
                    (step.order, 0),
                    key,
                    format!(
                        "`{key}` applies to map steps, and step `{}` maps over nothing: write `each NAME` for the argument to map over",
                        step.name
                    ),
                );
                }
            }
        }
    }
}

#[cfg(test)]
fn check_src(src: &str) -> Result<Checked, Vec<String>> {
    let def: FlowDef = syn::parse_str(src).expect("parses");
    check(&def).map_err(|e| e.into_iter().map(|e| e.to_string()).collect())
}

#[cfg(test)]
mod tests {
    use super::check_src;

    #[test]
    fn reports_every_problem_in_source_order() {
        let errors = check_src(
            "flow F { input x: u64; step a = f(y); step b = f(c); step c = f(b); step a = f(x); step s = f(s); return (zz, x); }",
        )
        .unwrap_err();
        assert_eq!(
            errors,
            [
                "unknown dependency `y`: no input or step of flow `F` has this name",
                "cycle: b -> c -> b",
                "duplicate step `a`: a step with this name is already declared",
                "step `s` depends on itself",
                "`return` of unknown name `zz`: no input or step of flow `F` has this name",
            ]
        );
    }
}
