//! The DAG shapes of the benchmark suite, as dependency lists in topological order:
//! `deps[i]` lists the earlier steps step `i` takes, at most four of them.
//!
//! This file is also compiled into `build.rs`, which turns each shape into a `flow!`.

/// A named DAG: `deps[i]` are the steps that step `i` takes, all `< i`.
pub struct Shape {
    /// Identifier-safe name, e.g. `chain1000`.
    pub name: String,
    /// Dependencies of each step, in topological order.
    pub deps: Vec<Vec<usize>>,
}

impl Shape {
    /// Number of steps.
    pub fn len(&self) -> usize {
        self.deps.len()
    }

    /// Whether the shape has no steps.
    pub fn is_empty(&self) -> bool {
        self.deps.is_empty()
    }

    /// Topological layers: `layers()[l]` lists the steps whose longest path from a root is `l`.
    pub fn layers(&self) -> Vec<Vec<usize>> {
        let mut level = vec![0usize; self.len()];
        let mut layers: Vec<Vec<usize>> = Vec::new();
        for (i, deps) in self.deps.iter().enumerate() {
            level[i] = deps.iter().map(|&d| level[d] + 1).max().unwrap_or(0);
            if layers.len() <= level[i] {
                layers.resize(level[i] + 1, Vec::new());
            }
            layers[level[i]].push(i);
        }
        layers
    }

    /// Successors of each step.
    pub fn successors(&self) -> Vec<Vec<usize>> {
        let mut succs = vec![Vec::new(); self.len()];
        for (i, deps) in self.deps.iter().enumerate() {
            for &d in deps {
                succs[d].push(i);
            }
        }
        succs
    }
}

/// `n` steps, each taking the one before.
pub fn chain(n: usize) -> Shape {
    let deps = (0..n)
        .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
        .collect();
    Shape {
        name: format!("chain{n}"),
        deps,
    }
}

/// One root feeding `n` steps, then a pairwise reduction of their results to one.
pub fn fan_out(n: usize) -> Shape {
    let mut deps = vec![vec![]];
    let mut level: Vec<usize> = (1..=n).collect();
    deps.extend((0..n).map(|_| vec![0]));
    while level.len() > 1 {
        let mut next = Vec::new();
        for pair in level.chunks(2) {
            if let [a, b] = pair {
                deps.push(vec![*a, *b]);
                next.push(deps.len() - 1);
            } else {
                next.push(pair[0]);
            }
        }
        level = next;
    }
    Shape {
        name: format!("fanout{n}"),
        deps,
    }
}

/// A `w` × `w` grid: cell (i, j) takes (i-1, j) and (i, j-1).
pub fn wavefront(w: usize) -> Shape {
    let mut deps = Vec::with_capacity(w * w);
    for i in 0..w {
        for j in 0..w {
            let mut d = Vec::new();
            if i > 0 {
                d.push((i - 1) * w + j);
            }
            if j > 0 {
                d.push(i * w + j - 1);
            }
            deps.push(d);
        }
    }
    Shape {
        name: format!("wave{w}"),
        deps,
    }
}

/// A binary out-tree of `depth` levels, then a reduction of its leaves back to one result.
pub fn binary_tree(depth: u32) -> Shape {
    let nodes = (1usize << depth) - 1;
    let mut deps: Vec<Vec<usize>> = (0..nodes)
        .map(|k| if k == 0 { vec![] } else { vec![(k - 1) / 2] })
        .collect();
    // result[k]: the step holding the reduction of the subtree at k.
    let mut result = vec![0usize; nodes];
    for k in (0..nodes).rev() {
        let (l, r) = (2 * k + 1, 2 * k + 2);
        if l >= nodes {
            result[k] = k;
        } else {
            deps.push(vec![result[l], result[r]]);
            result[k] = deps.len() - 1;
        }
    }
    Shape {
        name: format!("tree{depth}"),
        deps,
    }
}

/// The four-step diamond: a → (b, c) → d.
pub fn diamond() -> Shape {
    Shape {
        name: "diamond4".to_owned(),
        deps: vec![vec![], vec![0], vec![0], vec![1, 2]],
    }
}

/// `levels` levels of `width` steps; each step of a level feeds 1–4 random steps of the next
/// (in-degree capped at 4), and every step past the first level takes at least one.
pub fn random_levels(levels: usize, width: usize, seed: u64) -> Shape {
    let mut rng = seed;
    let mut next = move || {
        // xorshift64*
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); levels * width];
    for level in 0..levels.saturating_sub(1) {
        for k in 0..width {
            let from = level * width + k;
            let out = 1 + (next() % 4) as usize;
            for _ in 0..out {
                let to = (level + 1) * width + (next() % width as u64) as usize;
                if deps[to].len() < 4 && !deps[to].contains(&from) {
                    deps[to].push(from);
                }
            }
        }
        for k in 0..width {
            let to = (level + 1) * width + k;
            if deps[to].is_empty() {
                deps[to].push(level * width + (next() % width as u64) as usize);
            }
        }
    }
    for d in &mut deps {
        d.sort_unstable();
    }
    Shape {
        name: format!("random{levels}x{width}"),
        deps,
    }
}

/// The shapes of the overhead benchmarks.
pub fn overhead_shapes() -> Vec<Shape> {
    vec![
        chain(10),
        chain(100),
        chain(1000),
        fan_out(1000),
        wavefront(8),
        wavefront(32),
        wavefront(64),
        binary_tree(10),
        diamond(),
        random_levels(32, 32, 0x5EED),
    ]
}

/// The shapes of the builder benchmark (`benches/builder.rs`): each built with `flow!` and
/// with the run-time `Builder`.
pub fn builder_shapes() -> Vec<Shape> {
    vec![chain(256), fan_out(256)]
}

/// The shapes of the CPU-bound benchmarks.
pub fn cpu_shapes() -> Vec<Shape> {
    let mut fan = fan_out(64);
    fan.deps.truncate(65); // the root and its 64 steps; no reduction
    fan.name = "cpu_fanout64".to_owned();
    let mut wave = wavefront(16);
    wave.name = "cpu_wave16".to_owned();
    vec![fan, wave]
}
