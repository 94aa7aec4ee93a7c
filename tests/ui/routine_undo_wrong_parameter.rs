use routilux::routine;

struct Booking {
    room: u32,
}

#[derive(Debug)]
struct Full;

impl std::fmt::Display for Full {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("full")
    }
}

impl std::error::Error for Full {}

#[routine(undo = release)]
fn reserve(trip: &u32) -> Result<Booking, Full> {
    Ok(Booking { room: *trip })
}

/// Takes the trip, not the booking `reserve` made.
fn release(trip: &u32) -> Result<(), Full> {
    let _ = trip;
    Ok(())
}

fn main() {}
