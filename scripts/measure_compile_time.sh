#!/usr/bin/env bash
# How long does a 1000-step `flow!` take to expand and type-check?
#
# Builds a scratch crate (<target>/compile-time-probe) whose only code is one 1000-step flow!
# with random dependencies, warms its dependencies with one `cargo check`, then times
# `cargo check` after touching the source (best of 3): macro expansion plus type checking of
# that one file. The same DAG written as plain function calls is timed as a baseline. Writes
# <target>/routilux-bench/compile_time.json, where <target> is $CARGO_TARGET_DIR if set, else
# ./target. Run from anywhere: scripts/measure_compile_time.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target=$(realpath -m "${CARGO_TARGET_DIR:-$root/target}")
probe="$target/compile-time-probe"
mkdir -p "$probe/src" "$target/routilux-bench"
cat > "$probe/Cargo.toml" <<TOML
[package]
name = "compile-time-probe"
version = "0.0.0"
edition = "2024"
publish = false

[workspace]

[dependencies]
routilux = { path = "$root/routilux" }
TOML
python3 - "$probe/src" <<'PY'
import random, sys
random.seed(7)
n = 1000
deps = [[]] + [sorted(set(random.sample(range(max(0, i - 50), i), min(i, random.randint(1, 3))))) for i in range(1, n)]
routines = "".join(
    f"#[routine]\nfn t{k}({', '.join(f'a{j}: &u64' for j in range(k))}) -> u64 {{\n    1{''.join(f' + a{j}' for j in range(k))}\n}}\n\n"
    for k in range(4))
flow = "use routilux::{flow, routine};\n\n" + routines + "flow! {\n    pub flow Big {\n" + "".join(
    f"        step s{i} = t{len(d)}({', '.join(f's{j}' for j in d)});\n" for i, d in enumerate(deps)) + f"        return s{n - 1};\n    }}\n}}\n\n"
flow += "fn main() {\n    println!(\"{}\", Big::run().unwrap());\n}\n"
plain = routines.replace("#[routine]\n", "") + "fn main() {\n    let mut v = [0u64; %d];\n" % n + "".join(
    f"    v[{i}] = t{len(d)}({', '.join(f'&v[{j}]' for j in d)});\n" for i, d in enumerate(deps)) + f"    println!(\"{{}}\", v[{n - 1}]);\n}}\n"
open(sys.argv[1] + "/flow.rs", "w").write(flow)
open(sys.argv[1] + "/plain.rs", "w").write(plain)
PY
export CARGO_TARGET_DIR="$probe/target"
time_check() {
    cp "$probe/src/$1.rs" "$probe/src/main.rs"
    cargo check --quiet --manifest-path "$probe/Cargo.toml"
    local best=""
    for _ in 1 2 3; do
        touch "$probe/src/main.rs"
        local start end t
        start=$(date +%s.%N)
        cargo check --quiet --manifest-path "$probe/Cargo.toml"
        end=$(date +%s.%N)
        t=$(echo "$end - $start" | bc)
        if [ -z "$best" ] || [ "$(echo "$t < $best" | bc)" = 1 ]; then best=$t; fi
    done
    echo "$best"
}
flow_s=$(time_check flow)
plain_s=$(time_check plain)
# bc prints ".25" for 0.25; JSON needs the leading zero.
flow_s=$(printf '%.6f' "$flow_s")
plain_s=$(printf '%.6f' "$plain_s")
echo "cargo check of a 1000-step flow!: ${flow_s}s (the same DAG as plain calls: ${plain_s}s)"
printf '{"steps": 1000, "flow_check_s": %s, "plain_check_s": %s}\n' "$flow_s" "$plain_s" \
    > "$target/routilux-bench/compile_time.json"
