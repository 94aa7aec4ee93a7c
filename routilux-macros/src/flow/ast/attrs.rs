//! The attributes of a flow's statements: doc comments (of the flow and of its steps) and a
//! step's `#[step(...)]` options.

use proc_macro2::Span;
use syn::Attribute;

use crate::options::{self, Options};

/// The options a step's `#[step(...)]` takes.
const STEP_OPTIONS: &[&str] = &[
    "retries",
    "backoff",
    "batch",
    "max_concurrency",
    "timeout",
    "limit",
];

/// A step's doc comment and `#[step(...)]` options; anything else is an error.
pub(super) fn step_attributes(attrs: &[Attribute]) -> (Options, Vec<syn::Error>, String) {
    let mut options = Options::default();
    let mut errors = Vec::new();
    let mut doc = Vec::new();
    let mut seen_step = false;
    for attr in attrs {
        if attr.path().is_ident("doc") {
            doc.extend(doc_line(attr));
        } else if attr.path().is_ident("step") {
            if seen_step {
                errors.push(syn::Error::new_spanned(
                    attr,
                    "a step takes one `#[step(...)]`; put all its options in it",
                ));
                continue;
            }
            seen_step = true;
            match attr.meta.require_list() {
                Ok(list) => {
                    let (parsed, problems) =
                        options::parse(list.tokens.clone(), STEP_OPTIONS, "`#[step]`");
                    options = parsed;
                    errors.extend(problems);
                }
                Err(error) => errors.push(error),
            }
        } else {
            errors.push(syn::Error::new_spanned(
                attr.path(),
                "unknown attribute on a step: steps take doc comments and `#[step(retries = N, backoff = EXPR)]`",
            ));
        }
    }
    (options, errors, doc.join(" ").trim().to_owned())
}

/// The flow's own flags: `#[subflow]` (usable as a step of other flows) and `#[durable]`
/// (runs checkpointed to a store; its span, for errors about stored types), removed from
/// `attrs`, which keeps the attributes passed on to the flow's type.
pub(super) fn flow_flags(attrs: &mut Vec<Attribute>) -> syn::Result<(bool, Option<Span>)> {
    let mut subflow = false;
    let mut durable = None;
    for attr in attrs.iter() {
        if attr.path().is_ident("subflow") {
            attr.meta.require_path_only()?;
            subflow = true;
        } else if attr.path().is_ident("durable") {
            attr.meta.require_path_only()?;
            durable = Some(syn::spanned::Spanned::span(attr.path()));
        }
    }
    attrs.retain(|a| !a.path().is_ident("subflow") && !a.path().is_ident("durable"));
    Ok((subflow, durable))
}

/// The text of a `#[doc = "..."]` attribute (a `///` line), trimmed; `None` when blank.
pub(super) fn doc_line(attr: &Attribute) -> Option<String> {
    if !attr.path().is_ident("doc") {
        return None;
    }
    match &attr.meta {
        syn::Meta::NameValue(syn::MetaNameValue {
            value:
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(text),
                    ..
                }),
            ..
        }) => Some(text.value().trim().to_owned()).filter(|line| !line.is_empty()),
        _ => None,
    }
}
