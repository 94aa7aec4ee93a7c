//! Async undo: `#[routine(undo = f)]` where `f` is an `async fn` (with or without `&Context`).
//! Under `run_async` the undo's future is polled by the caller's executor (tokio's timers work
//! in it, on a current-thread runtime too); under the blocking `run` the calling thread drives
//! it. Undo order stays newest first across sync and async undos, and a run's future dropped
//! in the middle of its undo still undoes the rest.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::Duration;

use routilux::{Context, ErrorKind, flow, routine};

/// Ready on its second poll, waking itself on the first (an await that is no executor's).
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[derive(Debug)]
struct Declined;

impl std::fmt::Display for Declined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("card declined")
    }
}

impl std::error::Error for Declined {}

static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn log(line: impl Into<String>) {
    LOG.lock().unwrap().push(line.into());
}

fn taken() -> Vec<String> {
    std::mem::take(&mut *LOG.lock().unwrap())
}

#[routine(undo = release_seat)]
async fn hold_seat(trip: &u32) -> u32 {
    YieldOnce(false).await;
    *trip * 10
}

/// Awaits tokio's timer: needs the executor's reactor when the run is `run_async` in tokio.
async fn release_seat(seat: &u32) -> Result<(), Declined> {
    tokio::time::sleep(Duration::from_millis(1)).await;
    log(format!("released seat {seat}"));
    Ok(())
}

#[routine(undo = release_room)]
fn hold_room(seat: &u32) -> u32 {
    seat + 1
}

/// Takes the undo's context.
async fn release_room(room: &u32, ctx: &Context) {
    YieldOnce(false).await;
    log(format!("released room {room} in {}", ctx.step()));
}

#[routine]
fn charge(room: &u32) -> Result<u32, Declined> {
    let _ = room;
    Err(Declined)
}

flow! {
    flow Trip {
        input trip: u32;
        step seat = hold_seat(trip);
        step room = hold_room(seat);
        step paid = charge(room);
        return paid;
    }
}

#[routine(undo = release_quick)]
fn hold_quick(trip: &u32) -> u32 {
    *trip
}

async fn release_quick(hold: &u32) {
    YieldOnce(false).await;
    log(format!("released quick {hold}"));
}

flow! {
    flow Quick {
        input trip: u32;
        step seat = hold_seat(trip);
        step room = hold_quick(seat);
        step paid = charge(room);
        return paid;
    }
}

#[test]
fn async_undos_are_awaited_newest_first_on_a_current_thread_runtime() {
    let _serial = SERIAL.lock().unwrap();
    taken();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let error = runtime.block_on(Trip::run_async(4)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Failed);
    assert_eq!(error.step(), Some("paid"));
    assert!(error.undo_errors().is_empty(), "{:?}", error.undo_errors());
    assert_eq!(taken(), ["released room 41 in room", "released seat 40"]);
}

#[test]
fn async_undos_are_awaited_on_a_multi_thread_runtime() {
    let _serial = SERIAL.lock().unwrap();
    taken();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let error = runtime
        .block_on(async { tokio::spawn(Trip::run_async(5)).await.unwrap() })
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Failed);
    assert_eq!(taken(), ["released room 51 in room", "released seat 50"]);
}

#[test]
fn the_blocking_run_drives_async_undos_itself() {
    let _serial = SERIAL.lock().unwrap();
    taken();
    // No tokio here: the undos' futures need no reactor.
    let error = Quick::run(6).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Failed);
    assert_eq!(taken(), ["released quick 60"]);
}

static STUCK_STARTED: AtomicBool = AtomicBool::new(false);

#[routine(undo = release_never)]
fn hold_stuck(seat: &u32) -> u32 {
    seat + 2
}

/// Never finishes: the run's future is dropped while it waits.
async fn release_never(hold: &u32) {
    log(format!("releasing {hold}"));
    STUCK_STARTED.store(true, Ordering::SeqCst);
    std::future::pending::<()>().await;
}

#[routine(undo = release_plain)]
fn hold_plain(trip: &u32) -> u32 {
    *trip
}

fn release_plain(hold: &u32) {
    log(format!("released plain {hold}"));
}

flow! {
    flow Stuck {
        input trip: u32;
        step first = hold_plain(trip);
        step second = hold_stuck(first);
        step paid = charge(second);
        return paid;
    }
}

#[test]
fn dropping_the_run_during_an_async_undo_still_undoes_the_rest() {
    let _serial = SERIAL.lock().unwrap();
    taken();
    let mut run = Box::pin(Stuck::run_async(7));
    let mut cx = TaskContext::from_waker(Waker::noop());
    let start = std::time::Instant::now();
    while !STUCK_STARTED.load(Ordering::SeqCst) {
        assert!(
            run.as_mut().poll(&mut cx).is_pending(),
            "the undo never ends"
        );
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the undo never started"
        );
        std::thread::yield_now();
    }
    drop(run);
    // The stuck undo is not attempted again; the older step is undone in the drop.
    assert_eq!(taken(), ["releasing 9", "released plain 7"]);
}

/// The tests share `LOG`.
static SERIAL: Mutex<()> = Mutex::new(());
