//! How a flow's steps are laid out in the generated `Slots`: steps whose results have the same
//! type share one array (a routine group), and steps that call the same routine with arguments
//! from the same places share one generated function (a kind).

use super::shape::{Shape, path_string, shape};
use crate::flow::ast::FlowDef;
use crate::flow::validate::{ArgRef, Checked, Source};

/// Where a slot lives in the generated `Slots` struct: an input field, or row `k` of the array
/// of results of routine group `g` (steps calling the same routine path share one array).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Input(usize),
    Group(usize, usize),
}

/// How steps are dispatched: steps that call the same routine with arguments from the same
/// places share one generated function (a "kind"), which reads its argument rows from a static
/// table. A chain of a thousand steps is one function called a thousand times, not a thousand
/// match arms: little code, and an indirect call the CPU predicts.
pub(super) struct Layout {
    /// Routine group of each step (plan order), and its row in that group.
    pub step_place: Vec<(usize, usize)>,
    /// First step (declaration index) of each group, for its type.
    pub groups: Vec<usize>,
    /// Per kind: the first step (declaration index) and its rows, one per step of the kind.
    pub kinds: Vec<Kind>,
    /// Per step (plan order): its kind and row in the kind's table.
    pub dispatch: Vec<(usize, usize)>,
}

pub(super) struct Kind {
    pub group: usize,
    pub args: Vec<ArgPlace>,
    pub first: usize,
    pub rows: Vec<Vec<usize>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum ArgPlace {
    Input(usize),
    Group(usize),
    /// Argument `a` of step `d` (declaration index), a constant: a kind of its own.
    Const(usize, usize),
    /// `each` of an input or a group.
    EachInput(usize),
    EachGroup(usize),
}

pub(super) fn layout(def: &FlowDef, checked: &Checked) -> Layout {
    let mut group_of_path: Vec<(String, usize)> = Vec::new();
    let mut groups: Vec<usize> = Vec::new();
    let mut counts: Vec<usize> = Vec::new();
    let mut step_place = Vec::with_capacity(checked.order.len());
    let mut place_of_decl = vec![(0, 0); def.steps.len()];
    for &decl in &checked.order {
        let Shape { map, conditional } = shape(def, decl);
        // Steps share a result array when they store the same type.
        let path = format!(
            "{}{}{}",
            path_string(&def.steps[decl].routine),
            if map { "[]" } else { "" },
            if conditional { "?" } else { "" }
        );
        let g = match group_of_path.iter().find(|(p, _)| *p == path) {
            Some(&(_, g)) => g,
            None => {
                groups.push(decl);
                counts.push(0);
                group_of_path.push((path, groups.len() - 1));
                groups.len() - 1
            }
        };
        let k = counts[g];
        counts[g] += 1;
        step_place.push((g, k));
        place_of_decl[decl] = (g, k);
    }
    let place = |source: Source| match source {
        Source::Input(i) => Place::Input(i),
        Source::Step(d) => Place::Group(place_of_decl[d].0, place_of_decl[d].1),
    };
    let mut kinds: Vec<Kind> = Vec::new();
    let mut dispatch = Vec::with_capacity(checked.order.len());
    for (pos, &decl) in checked.order.iter().enumerate() {
        let mut places: Vec<Place> = Vec::new();
        let args: Vec<ArgPlace> = checked.args[decl]
            .iter()
            .map(|arg| match *arg {
                ArgRef::Const(a) => ArgPlace::Const(decl, a),
                ArgRef::Value(source) | ArgRef::Each(source) => {
                    let each = matches!(arg, ArgRef::Each(_));
                    let p = place(source);
                    places.push(p);
                    match (p, each) {
                        (Place::Input(i), false) => ArgPlace::Input(i),
                        (Place::Group(g, _), false) => ArgPlace::Group(g),
                        (Place::Input(i), true) => ArgPlace::EachInput(i),
                        (Place::Group(g, _), true) => ArgPlace::EachGroup(g),
                    }
                }
            })
            .collect();
        let (group, row) = step_place[pos];
        let mut cells: Vec<usize> = places
            .iter()
            .filter_map(|p| match *p {
                Place::Group(_, k) => Some(k),
                Place::Input(_) => None,
            })
            .collect();
        cells.push(row);
        let kind = match kinds
            .iter()
            .position(|k| k.group == group && k.args == args)
        {
            Some(kind) => kind,
            None => {
                kinds.push(Kind {
                    group,
                    args,
                    first: decl,
                    rows: Vec::new(),
                });
                kinds.len() - 1
            }
        };
        kinds[kind].rows.push(cells);
        dispatch.push((kind, kinds[kind].rows.len() - 1));
    }
    Layout {
        step_place,
        groups,
        kinds,
        dispatch,
    }
}
