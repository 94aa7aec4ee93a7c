//! The attributes of a flow's statements: doc comments (of the flow and of its steps) and a
//! step's `#[step(...)]` options.

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
