//! What `#[routine]` accepts: options in the attribute, and a function signature a flow can
//! call with shared references to other steps' results.

use proc_macro2::TokenStream;
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, ReturnType, Type};

use crate::options::{self, Options};

/// The options `#[routine(...)]` takes.
const OPTIONS: &[&str] = &["retries", "backoff", "fallback", "undo", "timeout", "limit"];

/// A routine's result: its return type, and whether it is a `Result` to unwrap.
pub(crate) struct Signature {
    /// The declared return type (`()` when omitted).
    pub returns: TokenStream,
    pub fallible: bool,
    /// The options given in the attribute.
    pub options: Options,
    /// The position of the `&Context` parameter, if there is one.
    pub context: Option<usize>,
    /// Whether it is an `async fn`.
    pub asynchronous: bool,
}

/// Checks the attribute's options and the function's signature; collects every problem.
pub(crate) fn check(args: TokenStream, function: &ItemFn) -> syn::Result<Signature> {
    let (options, mut errors) = options::parse(args, OPTIONS, "`#[routine]`");
    if let Some(fallback) = options.list.iter().find(|(k, _)| k == "fallback") {
        let fallible = matches!(&function.sig.output, ReturnType::Type(_, ty) if is_result(ty));
        if !fallible {
            errors.push(syn::Error::new(
                fallback.0.span(),
                format!(
                    "`fallback` needs a routine that can fail: `{}` does not return a `Result`",
                    function.sig.ident
                ),
            ));
        }
    }
    if let Some(timeout) = options.list.iter().find(|(k, _)| k == "timeout")
        && function.sig.asyncness.is_none()
    {
        errors.push(syn::Error::new(
            timeout.0.span(),
            format!(
                "`timeout` needs an async routine: `{}` is a plain `fn`, which cannot be stopped once it runs; make it an `async fn`, or check `ctx.is_cancelled()` in it",
                function.sig.ident
            ),
        ));
    }
    let mut context: Option<usize> = None;

    let sig = &function.sig;
    let name = &sig.ident;
    if let syn::Safety::Unsafe(token) = &sig.safety {
        errors.push(syn::Error::new(
            token.span,
            format!("routine `{name}` is `unsafe`: a flow cannot uphold its safety contract; wrap the call in a safe `fn`"),
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            format!("routine `{name}` is generic: a flow must know each step's concrete types; write a non-generic wrapper"),
        ));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(syn::Error::new(
            variadic.span(),
            "routines cannot be variadic",
        ));
    }
    for (position, input) in sig.inputs.iter().enumerate() {
        match input {
            FnArg::Receiver(receiver) => errors.push(syn::Error::new(
                receiver.span(),
                format!("routine `{name}` takes `self`: `#[routine]` goes on free functions, not methods"),
            )),
            FnArg::Typed(arg) if is_context(&arg.ty) => {
                if context.is_some() {
                    errors.push(syn::Error::new_spanned(
                        &arg.ty,
                        format!("routine `{name}` takes `&Context` twice: one context parameter is enough"),
                    ));
                }
                context = Some(position);
            }
            FnArg::Typed(arg) => {
                if let Some(error) = check_parameter(&arg.ty) {
                    errors.push(error);
                }
            }
        }
    }
    let (returns, fallible) = match &sig.output {
        ReturnType::Default => (quote::quote!(()), false),
        ReturnType::Type(_, ty) => {
            if let Some(error) = check_result(ty) {
                errors.push(error);
            }
            (quote::ToTokens::to_token_stream(ty), is_result(ty))
        }
    };

    let mut errors = errors.into_iter();
    match errors.next() {
        None => Ok(Signature {
            returns,
            fallible,
            options,
            context,
            asynchronous: sig.asyncness.is_some(),
        }),
        Some(mut first) => {
            for error in errors {
                first.combine(error);
            }
            Err(first)
        }
    }
}

/// `&Context` or `&routilux::Context` (any lifetime): the step's context, not an argument.
fn is_context(ty: &Type) -> bool {
    let Type::Reference(reference) = ty else {
        return false;
    };
    if reference.mutability.is_some() {
        return false;
    }
    match &*reference.elem {
        Type::Path(p) if p.qself.is_none() => {
            let segments = &p.path.segments;
            let last = segments.last();
            last.is_some_and(|s| s.ident == "Context" && s.arguments.is_none())
                && (segments.len() == 1 || (segments.len() == 2 && segments[0].ident == "routilux"))
        }
        _ => false,
    }
}

/// Parameters are `&T`: the step receives a shared reference to another step's result.
fn check_parameter(ty: &Type) -> Option<syn::Error> {
    match ty {
        Type::Reference(reference) if reference.mutability.is_some() => Some(syn::Error::new(
            reference.mutability.span(),
            "routine parameters are shared references (`&T`): other steps may read the same value at the same time",
        )),
        Type::Reference(reference) => find_impl_trait(&reference.elem),
        Type::Paren(inner) => check_parameter(&inner.elem),
        Type::Group(inner) => check_parameter(&inner.elem),
        _ => find_impl_trait(ty).or_else(|| {
            Some(syn::Error::new(
                ty.span(),
                "routine parameters are shared references: take `&T` instead of `T` (a step receives `&` of the result it depends on)",
            ))
        }),
    }
}

/// Results are owned values that outlive the call.
fn check_result(ty: &Type) -> Option<syn::Error> {
    if let Some(error) = find_impl_trait(ty) {
        return Some(error);
    }
    let owned = |ty: &Type| match ty {
        Type::Reference(r) if r.lifetime.as_ref().is_none_or(|l| l.ident != "static") => {
            Some(syn::Error::new(
                r.span(),
                "routine results must be owned values (or `&'static`): a step's result outlives the arguments it borrowed",
            ))
        }
        _ => None,
    };
    if let Some(error) = owned(ty) {
        return Some(error);
    }
    if let Some(ok) = result_ok_type(ty) {
        return owned(ok);
    }
    None
}

/// `impl Trait` anywhere in a type: the flow could not name it.
fn find_impl_trait(ty: &Type) -> Option<syn::Error> {
    match ty {
        Type::ImplTrait(t) => Some(syn::Error::new(
            t.span(),
            "`impl Trait` is not supported in routines: a flow must name each step's types",
        )),
        Type::Reference(r) => find_impl_trait(&r.elem),
        Type::Slice(s) => find_impl_trait(&s.elem),
        Type::Array(a) => find_impl_trait(&a.elem),
        Type::Paren(p) => find_impl_trait(&p.elem),
        Type::Group(g) => find_impl_trait(&g.elem),
        Type::Ptr(p) => find_impl_trait(&p.elem),
        Type::Tuple(t) => t.elems.iter().find_map(find_impl_trait),
        Type::Path(p) => p
            .path
            .segments
            .iter()
            .find_map(|segment| match &segment.arguments {
                syn::PathArguments::AngleBracketed(args) => {
                    args.args.iter().find_map(|arg| match arg {
                        syn::GenericArgument::Type(ty) => find_impl_trait(ty),
                        _ => None,
                    })
                }
                _ => None,
            }),
        _ => None,
    }
}

/// A return type spelled `Result<...>` (`std::result::Result`, `io::Result`, ...).
fn is_result(ty: &Type) -> bool {
    match ty {
        Type::Path(p) if p.qself.is_none() => p
            .path
            .segments
            .last()
            .is_some_and(|segment| segment.ident == "Result"),
        Type::Paren(p) => is_result(&p.elem),
        Type::Group(g) => is_result(&g.elem),
        _ => false,
    }
}

/// `T` of `Result<T, ...>`, when spelled out.
fn result_ok_type(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let segment = p.path.segments.last()?;
    if segment.ident != "Result" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &segment.arguments else {
        return None;
    };
    args.args.iter().find_map(|arg| match arg {
        syn::GenericArgument::Type(ty) => Some(ty),
        _ => None,
    })
}
