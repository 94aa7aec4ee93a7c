//! The macros never panic, whatever tokens they are given: random token soups through
//! `flow!` and `#[routine]` must come back as code or as compile errors.

use proc_macro2::TokenStream;
use proptest::prelude::*;

const WORDS: &[&str] = &[
    "flow", "F", "{", "}", "input", "step", "return", "x", "y", ":", "u64", ";", "=", "f", "g",
    "(", ")", ",", "a", "b", "::", "#", "[", "]", "pub", "<", ">", "&", "fn", "self", "mut",
    "async", "->", "Result", "T", "E", "1", "\"s\"", "impl", "'a", "where", "unsafe",
];

fn soup() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(WORDS), 0..40).prop_map(|w| w.join(" "))
}

/// A flow-shaped soup: a real header and a random body, to get past the first tokens.
fn flow_soup() -> impl Strategy<Value = String> {
    soup().prop_map(|body| format!("pub flow F {{ input x: u64; {body} }}"))
}

fn tokens(src: &str) -> Option<TokenStream> {
    src.parse().ok()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn flow_never_panics(src in prop_oneof![soup(), flow_soup()]) {
        if let Some(input) = tokens(&src) {
            let _ = crate::flow::flow(input);
        }
    }

    #[test]
    fn routine_never_panics(args in soup(), item in soup()) {
        let item = format!("fn f({item})");
        if let (Some(args), Some(item)) = (tokens(&args), tokens(&item)) {
            let _ = crate::routine::routine(args, item);
        }
    }

    #[test]
    fn random_valid_graphs_expand(deps in proptest::collection::vec(proptest::collection::vec(0usize..64, 0..4), 1..64)) {
        // Arguments may point forward, so some graphs have cycles: both outcomes are fine,
        // a panic is not.
        let mut src = String::from("flow F { input x: u64;");
        for (i, d) in deps.iter().enumerate() {
            let args: Vec<String> = d.iter().map(|&j| if j % deps.len() == i { "x".into() } else { format!("s{}", j % deps.len()) }).collect();
            src.push_str(&format!(" step s{i} = f({});", args.join(", ")));
        }
        src.push_str(" return s0; }");
        let _ = crate::flow::flow(tokens(&src).unwrap());
    }
}
