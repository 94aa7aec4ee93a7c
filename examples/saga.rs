//! A trip booking as a saga: reserve a flight, reserve a hotel, charge the card. The hotel has
//! no rooms, so after its retries the run fails and everything already done is undone, newest
//! first: the card is refunded, then the flight is released.
//!
//! Run it with `cargo run --example saga`. It prints every lifecycle event as it happens, then
//! the error the run returned and what the booking systems were left holding.
#![deny(warnings, clippy::all, clippy::pedantic)]

use std::error::Error;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use routilux::{
    Backoff, Context, FlowError, Observer, RunInfo, RunOptions, Step, StepPlan, flow, routine,
};

/// What the outside world holds: the booking systems the steps talk to.
static LEDGER: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn ledger(entry: String) {
    LEDGER.lock().unwrap().push(entry);
}

/// Everything a booking system can answer with instead of a confirmation.
#[derive(Debug)]
enum Refused {
    NoRooms(String),
    PriceService,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::NoRooms(city) => write!(f, "no rooms left in {city}"),
            Refused::PriceService => f.write_str("price service unavailable"),
        }
    }
}

impl Error for Refused {}

/// A trip request.
struct Trip {
    traveller: String,
    from: String,
    to: String,
    nights: u32,
}

/// A confirmation number and what it cost, in cents.
#[derive(Debug)]
struct Booking {
    reference: String,
    cents: u64,
}

/// Holds a seat; releases it on undo.
struct ReserveFlight;

impl Step for ReserveFlight {
    type Args = (Trip,);
    type Output = Booking;
    type Error = Refused;

    fn run((trip,): (&Trip,), _: &Context) -> Result<Booking, Refused> {
        let reference = format!("FL-{}-{}", trip.from, trip.to);
        ledger(format!("flight {reference} held for {}", trip.traveller));
        Ok(Booking {
            reference,
            cents: 28_900,
        })
    }

    fn undo(booking: &Booking, _: &Context) -> Result<(), Refused> {
        ledger(format!("flight {} released", booking.reference));
        Ok(())
    }
}

/// Holds a room; the destination is full, on every attempt.
struct ReserveHotel;

impl Step for ReserveHotel {
    type Args = (Trip,);
    type Output = Booking;
    type Error = Refused;
    const RETRIES: u32 = 2;
    const BACKOFF: Backoff = Backoff::exponential(Duration::from_millis(20)).jitter(0.1);

    fn run((trip,): (&Trip,), ctx: &Context) -> Result<Booking, Refused> {
        ledger(format!(
            "hotel in {} asked for {} nights (attempt {} of {})",
            trip.to,
            trip.nights,
            ctx.attempt(),
            ctx.max_attempts()
        ));
        Err(Refused::NoRooms(trip.to.clone()))
    }

    fn undo(booking: &Booking, _: &Context) -> Result<(), Refused> {
        ledger(format!("hotel {} cancelled", booking.reference));
        Ok(())
    }
}

/// A loyalty discount; when the price service is down the trip goes on without one: the
/// declared `fallback` is used instead (Routilux's "skip" strategy).
#[routine(fallback = 0)]
fn discount(trip: &Trip) -> Result<u64, Refused> {
    let _ = trip;
    Err(Refused::PriceService)
}

/// Charges the flight, minus the discount, as soon as the seat is held; refunds on undo.
struct ChargeCard;

impl Step for ChargeCard {
    type Args = (Booking, u64);
    type Output = Booking;
    type Error = Refused;

    fn run((flight, discount): (&Booking, &u64), _: &Context) -> Result<Booking, Refused> {
        let cents = flight.cents - discount;
        ledger(format!("card charged {}", dollars(cents)));
        Ok(Booking {
            reference: format!("PAY-{}", flight.reference),
            cents,
        })
    }

    fn undo(payment: &Booking, _: &Context) -> Result<(), Refused> {
        ledger(format!("card refunded {}", dollars(payment.cents)));
        Ok(())
    }
}

#[routine]
fn itinerary(flight: &Booking, hotel: &Booking, payment: &Booking) -> String {
    format!(
        "{} + {}, paid {}",
        flight.reference,
        hotel.reference,
        dollars(payment.cents)
    )
}

fn dollars(cents: u64) -> String {
    format!("${}.{:02}", cents / 100, cents % 100)
}

flow! {
    /// Books a trip, or leaves nothing booked.
    pub flow BookTrip {
        input trip: Trip;
        step flight = ReserveFlight(trip);
        step hotel = ReserveHotel(trip);
        step discount = discount(trip);
        /// Charged as soon as the seat is held, while the hotel is still being asked.
        step payment = ChargeCard(flight, discount);
        step confirmed = itinerary(flight, hotel, payment);
        return confirmed;
    }
}

/// Prints each lifecycle event with the time since the run started.
struct Printer {
    start: Instant,
    lines: Mutex<Vec<String>>,
}

impl Printer {
    fn say(&self, what: &str) {
        let line = format!(
            "{:>6.1} ms  {what}",
            self.start.elapsed().as_secs_f64() * 1e3
        );
        println!("{line}");
        self.lines.lock().unwrap().push(line);
    }
}

impl Observer for Printer {
    fn run_started(&self, run: &RunInfo<'_>) {
        self.say(&format!(
            "run {} of `{}` started",
            run.id(),
            run.plan().flow()
        ));
    }
    fn step_started(&self, _: &RunInfo<'_>, step: &StepPlan, attempt: u32) {
        self.say(&format!("  start    {} (attempt {attempt})", step.name()));
    }
    fn step_finished(&self, _: &RunInfo<'_>, step: &StepPlan, _: u32) {
        self.say(&format!("  done     {}", step.name()));
    }
    fn step_retrying(
        &self,
        _: &RunInfo<'_>,
        step: &StepPlan,
        attempt: u32,
        delay: Duration,
        error: &(dyn Error + 'static),
    ) {
        self.say(&format!(
            "  retry    {} after attempt {attempt} failed ({error}); waiting {delay:.1?}",
            step.name()
        ));
    }
    fn step_compensated(&self, _: &RunInfo<'_>, step: &StepPlan, error: &(dyn Error + 'static)) {
        self.say(&format!(
            "  continue {} with a replacement value ({error})",
            step.name()
        ));
    }
    fn step_failed(
        &self,
        _: &RunInfo<'_>,
        step: &StepPlan,
        attempt: u32,
        error: &(dyn Error + 'static),
    ) {
        self.say(&format!(
            "  FAILED   {} on attempt {attempt}: {error}",
            step.name()
        ));
    }
    fn undo_started(&self, _: &RunInfo<'_>, step: &StepPlan, _: u32) {
        self.say(&format!("  undo     {}", step.name()));
    }
    fn undo_finished(&self, _: &RunInfo<'_>, step: &StepPlan, _: u32) {
        self.say(&format!("  undone   {}", step.name()));
    }
    fn run_finished(&self, _: &RunInfo<'_>, result: Result<(), &FlowError>) {
        let outcome = if result.is_ok() {
            "succeeded"
        } else {
            "failed"
        };
        self.say(&format!("run {outcome}"));
    }
}

fn main() {
    let printer = Printer {
        start: Instant::now(),
        lines: Mutex::new(Vec::new()),
    };
    let trip = Trip {
        traveller: "Ada".into(),
        from: "LHR".into(),
        to: "LIS".into(),
        nights: 3,
    };
    println!("Event log:");
    let result = BookTrip::run_with(RunOptions::new().observer(&printer), trip);

    match result {
        Ok(itinerary) => println!("\nBooked: {itinerary}"),
        Err(error) => {
            println!("\nThe run returned: {error}");
            if let Some(refused) = error.source().and_then(|c| c.downcast_ref::<Refused>()) {
                println!("  the cause, as the step's own error type: {refused:?}");
            }
        }
    }
    println!("\nWhat the booking systems saw, in order:");
    for entry in LEDGER.lock().unwrap().iter() {
        println!("  {entry}");
    }
    let events = printer.lines.lock().unwrap().len();
    println!("\n({events} events observed.)");
}
