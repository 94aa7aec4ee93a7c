use routilux::{Context, routine};

struct Booking {
    room: u32,
}

#[routine(undo = release)]
fn reserve(trip: &u32) -> Booking {
    Booking { room: *trip }
}

/// Fails with a `String`, which is not an error type.
fn release(booking: &Booking, ctx: &Context) -> Result<(), String> {
    let _ = ctx;
    Err(format!("room {} is occupied", booking.room))
}

fn main() {}
