//! Async twins of the routines in `tracked`: the same values, failures and panics, made
//! after the step's future has been suspended once.

use super::tracked::{Ctl, Fail, Tracked, make};
use routilux::routine;

/// Pending once (waking itself), then ready: the step really suspends.
async fn suspend() {
    let mut first = true;
    std::future::poll_fn(|cx| {
        if std::mem::take(&mut first) {
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
}

#[routine]
pub async fn a0(ctl: &Ctl) -> Result<Tracked, Fail> {
    let _step = ctl.live.1.enter();
    suspend().await;
    make(ctl, 1)
}

#[routine]
pub async fn a1(a: &Tracked, ctl: &Ctl) -> Result<Tracked, Fail> {
    let _step = ctl.live.1.enter();
    suspend().await;
    make(ctl, a.value)
}

#[routine]
pub async fn a2(a: &Tracked, b: &Tracked, ctl: &Ctl) -> Result<Tracked, Fail> {
    let _step = ctl.live.1.enter();
    suspend().await;
    make(ctl, a.value.wrapping_mul(31) ^ b.value)
}

#[routine]
pub async fn a3(a: &Tracked, b: &Tracked, c: &Tracked, ctl: &Ctl) -> Result<Tracked, Fail> {
    let _step = ctl.live.1.enter();
    suspend().await;
    make(
        ctl,
        a.value.wrapping_mul(31) ^ b.value.wrapping_mul(7) ^ c.value,
    )
}
