//! Batched flows: [`Batches`] groups a stream of inputs into `Vec`s (from an iterator, or
//! from a channel with a maximum wait), and [`Runtime::map_batched`] runs a flow that takes
//! a batch over them.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::{Map, Runtime};

impl<T: Send + 'static, O: Send + 'static> Runtime<Vec<T>, O> {
    /// Runs a batched flow (one whose inputs are a `Vec`) over `inputs` grouped into batches
    /// of `size` (the last one may be smaller), at most `bound` batches in flight; results in
    /// order, one per batch. For batches that must not wait long for stragglers, see
    /// [`Batches::from_channel`].
    pub fn map_batched<It>(
        &self,
        inputs: It,
        size: usize,
        bound: usize,
    ) -> Map<'_, Vec<T>, O, Batches<It::IntoIter>>
    where
        It: IntoIterator<Item = T>,
    {
        self.map(batches(inputs, size), bound)
    }
}

/// Groups a stream of inputs into `Vec`s of up to `size` (0 counts as 1), for a runtime
/// whose flow takes a batch. From an iterator ([`batches`]) a batch is full unless the
/// iterator ended; from a channel ([`Batches::from_channel`]) a partial batch also goes once
/// its first input has waited `max_wait`.
///
/// ```
/// use routilux::batches;
///
/// let groups: Vec<Vec<u32>> = batches(1..=7, 3).collect();
/// assert_eq!(groups, [vec![1, 2, 3], vec![4, 5, 6], vec![7]]);
/// ```
pub struct Batches<S> {
    source: S,
    size: usize,
}

/// Groups `inputs` into batches of `size`; see [`Batches`].
pub fn batches<It: IntoIterator>(inputs: It, size: usize) -> Batches<It::IntoIter> {
    Batches {
        source: inputs.into_iter(),
        size: size.max(1),
    }
}

/// Batches of what arrives on a channel: see [`Batches::from_channel`].
pub struct ChannelBatches<'c, T> {
    channel: &'c Receiver<T>,
    size: usize,
    max_wait: Duration,
}

impl Batches<()> {
    /// Groups what arrives on `channel` into batches of up to `size`; a partial batch goes
    /// once its first input has waited `max_wait`. Ends when every sender is gone.
    ///
    /// ```
    /// use std::time::Duration;
    /// use routilux::Batches;
    ///
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// for x in 0..5 { tx.send(x).unwrap(); }
    /// drop(tx);
    /// let groups: Vec<Vec<u32>> = Batches::from_channel(&rx, 2, Duration::from_millis(5)).collect();
    /// assert_eq!(groups, [vec![0, 1], vec![2, 3], vec![4]]);
    /// ```
    pub fn from_channel<T>(
        channel: &Receiver<T>,
        size: usize,
        max_wait: Duration,
    ) -> ChannelBatches<'_, T> {
        ChannelBatches {
            channel,
            size: size.max(1),
            max_wait,
        }
    }
}

impl<It: Iterator> Iterator for Batches<It> {
    type Item = Vec<It::Item>;

    fn next(&mut self) -> Option<Self::Item> {
        let batch: Vec<It::Item> = self.source.by_ref().take(self.size).collect();
        (!batch.is_empty()).then_some(batch)
    }
}

impl<T> Iterator for ChannelBatches<'_, T> {
    type Item = Vec<T>;

    fn next(&mut self) -> Option<Self::Item> {
        let first = self.channel.recv().ok()?;
        let mut batch = Vec::with_capacity(self.size.min(1024));
        batch.push(first);
        let deadline = Instant::now().checked_add(self.max_wait);
        while batch.len() < self.size {
            let next = match deadline {
                None => self
                    .channel
                    .recv()
                    .map_err(|_| RecvTimeoutError::Disconnected),
                Some(deadline) => self
                    .channel
                    .recv_timeout(deadline.saturating_duration_since(Instant::now())),
            };
            match next {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        Some(batch)
    }
}
