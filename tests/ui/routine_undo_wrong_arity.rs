use routilux::{Context, routine};

struct Booking {
    room: u32,
}

#[routine(undo = release)]
fn reserve(trip: &u32) -> Booking {
    Booking { room: *trip }
}

/// One parameter too many: an undo receives the result and, optionally, the context.
fn release(booking: &Booking, trip: &u32, ctx: &Context) {
    let _ = (booking.room, trip, ctx);
}

fn main() {}
