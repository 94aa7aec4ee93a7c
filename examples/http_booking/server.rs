//! The booking API of `http_booking`: a server that misbehaves on purpose (slow answers,
//! errors on first attempts, declined cards) and keeps its books, so that the example can
//! check them at the end.

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Counts requests in flight, and the most ever in flight at once.
#[derive(Default)]
pub struct Gauge {
    now: AtomicUsize,
    peak: AtomicUsize,
}

/// One request counted in a [`Gauge`] until dropped.
struct InFlight<'g>(&'g Gauge);

impl Gauge {
    /// The most requests ever in flight at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    fn enter(&self) -> InFlight<'_> {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        InFlight(self)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What the server holds, and what it saw.
#[derive(Default)]
pub struct Books {
    pub flights: BTreeSet<u32>,
    pub hotels: BTreeSet<u32>,
    pub charges: BTreeSet<u32>,
    /// Requests per (resource, trip), to misbehave on first attempts only.
    attempts: BTreeMap<(String, u32), u32>,
    /// Per trip, each request as it arrived and what it was answered.
    pub log: BTreeMap<u32, Vec<String>>,
    /// Releases of holds that did not exist.
    pub unknown_releases: usize,
}

#[derive(Default)]
pub struct Server {
    books: Mutex<Books>,
    pub hotel_holds: Gauge,
}

/// What the server decided to do with a request.
enum Answer {
    Now(StatusCode, String),
    /// Answers after a while (an overloaded upstream); it holds nothing.
    Slow(Duration, StatusCode),
    /// Answers after a while (the hotel's own work).
    After(Duration, StatusCode, String),
}

impl Server {
    pub fn books(&self) -> MutexGuard<'_, Books> {
        self.books.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn handle(&self, request: &Request<Incoming>) -> Response<Full<Bytes>> {
        // Only the holds count: the limit gates the hotel step, not the undo that releases
        // a room (`DELETE`), which runs after the step has given its permit back.
        let _in_flight = (request.method() == Method::PUT
            && request.uri().path().starts_with("/hotels/"))
        .then(|| self.hotel_holds.enter());
        let (status, body) = match self.decide(request.method(), request.uri().path()) {
            Answer::Now(status, body) => (status, body),
            Answer::Slow(wait, status) => {
                tokio::time::sleep(wait).await;
                (status, "overloaded".to_owned())
            }
            Answer::After(wait, status, body) => {
                tokio::time::sleep(wait).await;
                (status, body)
            }
        };
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response
    }

    /// Applies a request to the books at once (so that a client that gave up on a slow
    /// answer cannot change them later) and says how to answer it.
    fn decide(&self, method: &Method, path: &str) -> Answer {
        let mut parts = path.trim_start_matches('/').splitn(2, '/');
        let (Some(resource), Some(Ok(trip))) = (parts.next(), parts.next().map(str::parse::<u32>))
        else {
            return Answer::Now(StatusCode::NOT_FOUND, "no such resource".to_owned());
        };
        let mut books = self.books();
        let books = &mut *books;
        let attempt = books
            .attempts
            .entry((format!("{method} {resource}"), trip))
            .or_default();
        *attempt += 1;
        let first = *attempt == 1;
        let prefix = match resource {
            "flights" => "FL",
            "hotels" => "HT",
            _ => "CH",
        };
        let reference = format!("{prefix}-{trip}");
        let answer = match (method, resource) {
            (&Method::PUT, "flights") if first && trip % 4 == 1 => {
                Answer::Slow(Duration::from_millis(400), StatusCode::SERVICE_UNAVAILABLE)
            }
            (&Method::PUT, "flights") => {
                books.flights.insert(trip);
                Answer::Now(StatusCode::CREATED, reference)
            }
            (&Method::PUT, "hotels") if first && trip % 3 == 2 => Answer::After(
                Duration::from_millis(20),
                StatusCode::SERVICE_UNAVAILABLE,
                "try again".to_owned(),
            ),
            (&Method::PUT, "hotels") => {
                books.hotels.insert(trip);
                Answer::After(Duration::from_millis(30), StatusCode::CREATED, reference)
            }
            (&Method::PUT, "charges") if trip % 7 == 3 => {
                Answer::Now(StatusCode::PAYMENT_REQUIRED, "card declined".to_owned())
            }
            (&Method::PUT, "charges") if first && trip % 5 == 4 => Answer::Now(
                StatusCode::INTERNAL_SERVER_ERROR,
                "payment gateway error".to_owned(),
            ),
            (&Method::PUT, "charges") => {
                books.charges.insert(trip);
                Answer::Now(StatusCode::CREATED, reference)
            }
            (&Method::DELETE, "flights" | "hotels") => {
                let held = if resource == "flights" {
                    &mut books.flights
                } else {
                    &mut books.hotels
                };
                if held.remove(&trip) {
                    Answer::Now(StatusCode::NO_CONTENT, String::new())
                } else {
                    books.unknown_releases += 1;
                    Answer::Now(StatusCode::NOT_FOUND, "nothing held".to_owned())
                }
            }
            _ => Answer::Now(StatusCode::METHOD_NOT_ALLOWED, String::new()),
        };
        let status = match &answer {
            Answer::Now(status, _) | Answer::After(_, status, _) => status.as_u16().to_string(),
            Answer::Slow(wait, status) => {
                format!("{} only after {} ms", status.as_u16(), wait.as_millis())
            }
        };
        let short = resource.trim_end_matches('s');
        let verb = if method == Method::DELETE {
            "release "
        } else {
            ""
        };
        books
            .log
            .entry(trip)
            .or_default()
            .push(format!("{verb}{short} {status}"));
        answer
    }
}

/// Accepts connections until the runtime shuts down.
pub async fn serve(listener: TcpListener, server: Arc<Server>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let server = Arc::clone(&server);
        tokio::spawn(async move {
            let service = service_fn(|request: Request<Incoming>| {
                let server = Arc::clone(&server);
                async move { Ok::<_, Infallible>(server.handle(&request).await) }
            });
            // A client that gave up on a slow answer closes the connection: not an error here.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
