use routilux::routine;

#[routine]
fn first<T: Clone>(values: &[T]) -> Option<T> {
    values.first().cloned()
}

fn main() {}
