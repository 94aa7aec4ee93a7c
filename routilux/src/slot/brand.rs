//! [`Brand`]: the identity of one run, which its slots carry.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// The identity of one run, which its slots carry: made fresh for every run, used once.
pub struct Brand {
    pub(super) run: u64,
}

/// Run identities are handed to threads in blocks, so that making one costs no shared atomic.
static BLOCKS: AtomicU64 = AtomicU64::new(1);
const BLOCK: u64 = 1 << 20;

thread_local! {
    static NEXT: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

impl Brand {
    /// A brand no other run has.
    #[must_use]
    pub fn new() -> Self {
        let run = NEXT
            .try_with(|next| {
                let (mut at, mut end) = next.get();
                if at == end {
                    at = BLOCKS.fetch_add(1, Ordering::Relaxed) * BLOCK;
                    end = at + BLOCK;
                }
                next.set((at + 1, end));
                at
            })
            .unwrap_or_else(|_| BLOCKS.fetch_add(1, Ordering::Relaxed) * BLOCK);
        Brand { run }
    }

    pub(crate) fn run(&self) -> u64 {
        self.run
    }
}

impl Default for Brand {
    fn default() -> Self {
        Brand::new()
    }
}
