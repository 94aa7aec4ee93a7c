use routilux::routine;

struct Booking {
    room: u32,
}

#[routine(undo = release)]
fn reserve(trip: &u32) -> Booking {
    Booking { room: *trip }
}

/// Returns the room it freed: an undo returns `()` or `Result<(), E>`.
fn release(booking: &Booking) -> u32 {
    booking.room
}

fn main() {}
