//! Async steps against a real HTTP server: twenty trips booked at once, each a saga of three
//! HTTP calls (hold a flight seat, hold a hotel room, charge the card) with retries, a
//! per-attempt timeout, and the holds released with `DELETE` when the card is declined.
//!
//! Run it with `cargo run --example http_booking --features routilux-examples/http` (the
//! feature brings hyper and tokio, which the other examples do without).
//!
//! The example starts its own server on 127.0.0.1 (a free port), which misbehaves on
//! purpose, the same way on every run:
//! - the first flight request of every fourth trip answers only after 400 ms: the step's
//!   150 ms timeout drops that attempt and the retry goes through;
//! - the first hotel request of every third trip fails with 503, then succeeds on retry;
//! - the first charge of every fifth trip fails with 500; the card of every seventh trip
//!   is declined (402) every time, so that booking fails and its holds are released.
//!
//! The server also counts the room holds (`PUT /hotels/..`) in flight at once and prints the
//! most it saw. The hotel step takes a permit of a shared [`Limit`](routilux::Limit) of 4, so
//! that count stays at 4 or below, all trips together. (A limit gates the step, not its undo:
//! the `DELETE` that releases a room runs after the step gave its permit back.)
//!
//! Every request is idempotent (`PUT /flights/7` holds booking 7's seat, however often it is
//! sent), so a retry after a timeout never books twice. At the end the example prints what
//! the server saw for each trip and checks its books: every confirmed trip holds one seat,
//! one room and one charge, and a failed trip holds nothing.
#![deny(warnings, clippy::all, clippy::pedantic)]

use std::collections::BTreeSet;
use std::error::Error;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use routilux::{Backoff, FlowError, RunOptions, Tracker, flow, routine};
use tokio::net::{TcpListener, TcpStream};

mod server;
use server::{Server, serve};

const TRIPS: u32 = 20;

/// The client's view: attempts, failures and retries per step, over every booking.
static TRACKER: LazyLock<Tracker> = LazyLock::new(Tracker::new);

/// Where the booking API is.
#[derive(Clone, Debug)]
struct Api {
    addr: SocketAddr,
}

/// A trip to book: its number (the server's booking key) and its price.
#[derive(Clone, Debug)]
struct Trip {
    id: u32,
    cents: u64,
}

/// A seat or a room held for a trip, and where to release it.
#[derive(Debug)]
struct Hold {
    reference: String,
    path: String,
    api: Api,
}

/// A charge on the traveller's card.
#[derive(Debug)]
struct Payment {
    reference: String,
}

/// What an API call can fail with.
#[derive(Debug)]
enum ApiError {
    Io(std::io::Error),
    Http(hyper::Error),
    Refused(StatusCode, String),
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Io(e) => write!(f, "cannot reach the booking API: {e}"),
            ApiError::Http(e) => write!(f, "HTTP error: {e}"),
            ApiError::Refused(status, body) => write!(f, "the API answered {status}: {body}"),
        }
    }
}

impl Error for ApiError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            ApiError::Io(e) => Some(e),
            ApiError::Http(e) => Some(e),
            ApiError::Refused(..) => None,
        }
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        ApiError::Io(e)
    }
}

impl From<hyper::Error> for ApiError {
    fn from(e: hyper::Error) -> Self {
        ApiError::Http(e)
    }
}

impl Api {
    /// Sends one request on a connection of its own; a success status gives the body.
    async fn call(&self, method: Method, path: &str) -> Result<String, ApiError> {
        let stream = TcpStream::connect(self.addr).await?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        // The connection's I/O runs as a task of its own; it ends with the request (or when
        // a timed-out attempt drops `sender`).
        tokio::spawn(connection);
        let mut request = Request::new(Empty::<Bytes>::new());
        *request.method_mut() = method;
        *request.uri_mut() = path
            .parse()
            .map_err(|_| ApiError::Refused(StatusCode::BAD_REQUEST, path.to_owned()))?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        let body = String::from_utf8_lossy(&body).into_owned();
        if status.is_success() {
            Ok(body)
        } else {
            Err(ApiError::Refused(status, body))
        }
    }

    /// Holds a seat or a room (`PUT`), returning what releases it.
    async fn hold(&self, path: String) -> Result<Hold, ApiError> {
        let reference = self.call(Method::PUT, &path).await?;
        Ok(Hold {
            reference,
            path,
            api: self.clone(),
        })
    }
}

/// Holds a seat. Retried twice; an attempt that takes over 150 ms is dropped and retried.
#[routine(
    retries = 2,
    backoff = Backoff::fixed(Duration::from_millis(20)),
    timeout = Duration::from_millis(150),
    undo = release
)]
async fn reserve_flight(api: &Api, trip: &Trip) -> Result<Hold, ApiError> {
    api.hold(format!("/flights/{}", trip.id)).await
}

/// Holds a room. Retried twice, after 10 then 20 ms.
#[routine(
    retries = 2,
    backoff = Backoff::exponential(Duration::from_millis(10)),
    timeout = Duration::from_secs(2),
    undo = release
)]
async fn reserve_hotel(api: &Api, trip: &Trip) -> Result<Hold, ApiError> {
    api.hold(format!("/hotels/{}", trip.id)).await
}

/// Charges the card once both holds are there. Retried twice (a decline is retried too:
/// the step cannot tell the API's errors apart).
#[routine(
    retries = 2,
    backoff = Backoff::fixed(Duration::from_millis(10)),
    timeout = Duration::from_secs(2)
)]
async fn charge_card(
    api: &Api,
    trip: &Trip,
    flight: &Hold,
    hotel: &Hold,
) -> Result<Payment, ApiError> {
    let path = format!(
        "/charges/{}?cents={}&for={}+{}",
        trip.id, trip.cents, flight.reference, hotel.reference
    );
    let reference = api.call(Method::PUT, &path).await?;
    Ok(Payment { reference })
}

/// Releases a hold: the undo of both reservations, awaited by the run's own future (so
/// polled by tokio, like the steps).
async fn release(hold: &Hold) -> Result<(), ApiError> {
    hold.api.call(Method::DELETE, &hold.path).await.map(drop)
}

/// The confirmation text (a plain step, run on rayon).
#[routine]
fn confirm(trip: &Trip, flight: &Hold, hotel: &Hold, payment: &Payment) -> String {
    format!(
        "{} + {}, {}.{:02} charged ({})",
        flight.reference,
        hotel.reference,
        trip.cents / 100,
        trip.cents % 100,
        payment.reference
    )
}

/// At most 4 calls to the hotel's API at once, across every trip's run.
static HOTEL_API: routilux::Limit = routilux::Limit::new(4);

flow! {
    /// Books a trip: the seat and the room at once, then the card; a failure releases what
    /// was held, newest first.
    flow Booking {
        input api: Api;
        input trip: Trip;
        step flight = reserve_flight(api, trip);
        #[step(limit = HOTEL_API)]
        step hotel = reserve_hotel(api, trip);
        step payment = charge_card(api, trip, flight, hotel);
        step confirmation = confirm(trip, flight, hotel, payment);
        return confirmation;
    }
}

fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_io()
        .enable_time()
        .build()?;
    runtime.block_on(async { tokio::spawn(book_all()).await? })
}

async fn book_all() -> Result<(), Box<dyn Error + Send + Sync>> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = Arc::new(Server::default());
    tokio::spawn(serve(listener, Arc::clone(&server)));
    println!("booking API on http://{addr}; booking {TRIPS} trips at once\n");

    let api = Api { addr };
    let trips: Vec<Trip> = (1..=TRIPS)
        .map(|id| Trip {
            id,
            cents: 18_000 + u64::from(id) * 1_250,
        })
        .collect();
    let started = Instant::now();
    // Each run is a `Send + 'static` future (its options borrow only statics): one tokio
    // task per booking.
    let options = RunOptions::new().observer(&*TRACKER);
    let runs = trips
        .iter()
        .map(|trip| tokio::spawn(Booking::run_async_with(options, api.clone(), trip.clone())));
    let outcomes: Vec<Result<String, FlowError>> =
        join_all(runs).await.into_iter().collect::<Result<_, _>>()?;
    let elapsed = started.elapsed();

    let books = server.books();
    let mut confirmed = BTreeSet::new();
    for (trip, outcome) in trips.iter().zip(&outcomes) {
        match outcome {
            Ok(text) => {
                confirmed.insert(trip.id);
                println!("trip {:>2}  confirmed: {text}", trip.id);
            }
            Err(e) => {
                let cause = e.source().map_or_else(String::new, ToString::to_string);
                let step = e.step().unwrap_or("?");
                println!("trip {:>2}  FAILED at `{step}`: {cause}", trip.id);
                for undo in e.undo_errors() {
                    println!("          undo failed: {undo}");
                }
            }
        }
        let seen = books.log.get(&trip.id).map_or(&[][..], Vec::as_slice);
        println!("          server saw: {}", seen.join(", "));
    }

    let report = TRACKER.report().to_string();
    println!("\nthe client's view, per step:\n{}", report.trim_end());
    let failed = outcomes.len() - confirmed.len();
    println!(
        "\n{} confirmed, {failed} failed, in {:.0} ms",
        confirmed.len(),
        elapsed.as_secs_f64() * 1e3
    );
    println!(
        "server holds {} seats, {} rooms, {} charges",
        books.flights.len(),
        books.hotels.len(),
        books.charges.len()
    );
    let peak = server.hotel_holds.peak();
    println!(
        "room holds in flight at once, at most: {peak} (limit: {})",
        HOTEL_API.permits()
    );
    if peak > HOTEL_API.permits() {
        return Err(format!("{peak} room holds were in flight at once, over the limit").into());
    }
    let consistent = books.flights == confirmed
        && books.hotels == confirmed
        && books.charges == confirmed
        && books.unknown_releases == 0;
    if !consistent {
        return Err("the server's books do not match the bookings' outcomes".into());
    }
    println!(
        "books consistent: every confirmed trip holds a seat, a room and a charge; failed trips hold nothing"
    );
    Ok(())
}
