use routilux::routine;

struct Counter(u64);

impl Counter {
    #[routine]
    fn get(&self) -> u64 {
        self.0
    }
}

fn main() {}
