//! Big and awkward shapes: long chains, wide fan-outs and combs (a chain where every link also
//! feeds a leaf). They must run to completion without overflowing a worker's stack, whatever
//! the schedule.

use routilux::{Builder, DynFlow, Handle, RunOptions, Schedule};

type Never = std::convert::Infallible;

fn plus_one(args: &[&u64]) -> Result<u64, Never> {
    Ok(args.iter().copied().sum::<u64>() + 1)
}

fn run(flow: &DynFlow, input: Handle<u64>, output: Handle<u64>, options: RunOptions<'_>) -> u64 {
    let mut inputs = flow.inputs();
    inputs.set(input, 0);
    flow.run(inputs, options)
        .expect("the run succeeds")
        .take(output)
        .expect("the output is returned")
}

fn all_options(pool: &rayon::ThreadPool) -> Vec<RunOptions<'_>> {
    [Schedule::Sequential, Schedule::Layered, Schedule::Dataflow]
        .into_iter()
        .flat_map(|s| [RunOptions::from(s), RunOptions::from(s).pool(pool)])
        .collect()
}

fn pool() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
}

#[test]
fn a_comb_of_twenty_thousand_links() {
    let links = 20_000;
    let mut b = Builder::new("Comb");
    let input = b.input::<u64>("x").unwrap();
    let mut link = input;
    for i in 0..links {
        link = b.step(format!("link{i}"), &[link], plus_one).unwrap();
        b.step(format!("leaf{i}"), &[link], plus_one).unwrap();
    }
    b.output(link);
    let flow = b.build();
    let pool = pool();
    for options in all_options(&pool) {
        assert_eq!(run(&flow, input, link, options), links);
    }
}

#[test]
fn a_fan_out_of_ten_thousand_and_its_reduction() {
    let width = 10_000;
    let mut b = Builder::new("Fan");
    let input = b.input::<u64>("x").unwrap();
    let root = b.step("root", &[input], plus_one).unwrap();
    let leaves: Vec<Handle<u64>> = (0..width)
        .map(|i| b.step(format!("leaf{i}"), &[root], plus_one).unwrap())
        .collect();
    let sum = b.step("sum", &leaves, plus_one).unwrap();
    b.output(sum);
    let flow = b.build();
    let pool = pool();
    for options in all_options(&pool) {
        assert_eq!(run(&flow, input, sum, options), 2 * width + 1);
    }
}

#[test]
fn a_chain_of_a_hundred_thousand_steps() {
    let length = 100_000;
    let mut b = Builder::new("Chain");
    let input = b.input::<u64>("x").unwrap();
    let mut last = input;
    for i in 0..length {
        last = b.step(format!("s{i}"), &[last], plus_one).unwrap();
    }
    b.output(last);
    let flow = b.build();
    let pool = pool();
    for options in all_options(&pool) {
        assert_eq!(run(&flow, input, last, options), length);
    }
}
