use routilux::routine;

struct Booking {
    room: u32,
}

const RELEASE: &str = "release";

#[routine(undo = RELEASE)]
fn reserve(trip: &u32) -> Booking {
    Booking { room: *trip }
}

fn main() {}
