//! The typed syntax tree of `flow!`, with the spans of every name for error messages.
//!
//! ```text
//! flow! { [#[attr]...] [vis] flow Name {
//!     input NAME: TYPE;            // any number, in order: the parameters of `run`
//!     [/// docs] [#[step(retries = N, backoff = EXPR)]]
//!     step NAME = ROUTINE(ARG, ...) [after NAME, ...] [if [!]NAME];
//!         // ARG: the name of an input or step, `each NAME` (a map), a literal or `{ EXPR }`
//!     return NAME; | return (NAME, ...);  // optional, last
//! } }
//! ```
//!
//! Parsed in [`parse`] (the flow and its statements), [`step`] (a step's call, `after` and
//! condition) and [`attrs`] (doc comments and `#[step(...)]` options).

mod attrs;
mod parse;
mod step;

use proc_macro2::{Span, TokenStream};
use syn::{Attribute, Ident, Path, Type, Visibility};

use crate::options::Options;

mod kw {
    syn::custom_keyword!(flow);
    syn::custom_keyword!(input);
    syn::custom_keyword!(step);
    syn::custom_keyword!(after);
    syn::custom_keyword!(each);
}

/// One `flow!` invocation.
pub(crate) struct FlowDef {
    pub attrs: Vec<Attribute>,
    /// The flow's doc comment, trimmed lines joined by spaces (as a step's).
    pub doc: String,
    pub vis: Visibility,
    pub name: Ident,
    pub inputs: Vec<Input>,
    pub steps: Vec<Step>,
    pub ret: Option<Return>,
    /// `#[subflow]`: other flows may use this one as a step (automatic for private flows).
    pub subflow: bool,
    /// `#[durable]`: runs checkpointed to a store (`Name::durable(&store)`), at this span.
    pub durable: Option<Span>,
}

/// `input NAME: TYPE;`
pub(crate) struct Input {
    pub name: Ident,
    pub ty: Type,
    /// Position among the flow's statements, to report errors in source order.
    pub order: usize,
}

/// One argument of a step's call.
pub(crate) enum Arg {
    /// The name of an input or step: the routine gets `&` of its value.
    Name(Ident),
    /// `each NAME`: the routine is called once per element of the value.
    Each(Ident),
    /// A literal or a `{ EXPR }` block, made where the step calls its routine.
    Const(TokenStream, Span),
}

impl Arg {
    /// Where the argument is written.
    pub(crate) fn span(&self) -> Span {
        match self {
            Arg::Name(name) | Arg::Each(name) => name.span(),
            Arg::Const(_, span) => *span,
        }
    }
}

/// `if NAME` or `if !NAME` after a step's call.
pub(crate) struct Condition {
    pub name: Ident,
    pub negated: bool,
}

/// `step NAME = ROUTINE(ARG, ...) [after NAME, ...] [if [!]NAME];`
pub(crate) struct Step {
    pub name: Ident,
    pub routine: Path,
    pub args: Vec<Arg>,
    /// Steps that must finish first, without passing their results.
    pub after: Vec<Ident>,
    /// The step runs only when this `bool` is true (false with `!`).
    pub condition: Option<Condition>,
    /// Position among the flow's statements, to report errors in source order.
    pub order: usize,
    /// `#[step(...)]` options that override the routine's.
    pub options: Options,
    /// Problems with the step's attributes, reported with the flow's other problems.
    pub errors: Vec<syn::Error>,
    /// The step's doc comment, trimmed lines joined by spaces.
    pub doc: String,
}

/// `return NAME;` or `return (NAME, ...);`
pub(crate) struct Return {
    pub names: Vec<Ident>,
    /// Written as a parenthesized tuple (even of one name).
    pub tuple: bool,
}

#[cfg(test)]
fn parse_src(src: &str) -> syn::Result<FlowDef> {
    syn::parse_str(src)
}
