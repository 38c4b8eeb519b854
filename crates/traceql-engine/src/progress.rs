//! How far a running query has come, readable from another thread while it runs.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters a search or metrics query updates as it reads blocks; share it (for example in an
/// `Arc`) with whatever shows progress.
#[derive(Debug, Default)]
pub struct Progress {
    blocks_total: AtomicU64,
    blocks_done: AtomicU64,
    spans: AtomicU64,
}

impl Progress {
    /// Blocks the query will read.
    pub fn blocks_total(&self) -> u64 {
        self.blocks_total.load(Ordering::Relaxed)
    }

    /// Blocks read to the end.
    pub fn blocks_done(&self) -> u64 {
        self.blocks_done.load(Ordering::Relaxed)
    }

    /// Spans evaluated so far.
    pub fn spans(&self) -> u64 {
        self.spans.load(Ordering::Relaxed)
    }

    pub(crate) fn set_blocks_total(&self, blocks: usize) {
        self.blocks_total.store(blocks as u64, Ordering::Relaxed);
    }

    pub(crate) fn block_done(&self) {
        self.blocks_done.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_spans(&self, spans: u64) {
        self.spans.fetch_add(spans, Ordering::Relaxed);
    }
}

impl fmt::Display for Progress {
    /// `block 2 of 5, 120000 spans`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.blocks_total();
        let current = (self.blocks_done() + 1).min(total);
        write!(f, "block {current} of {total}, {} spans", self.spans())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_the_block_being_read() {
        let p = Progress::default();
        p.set_blocks_total(3);
        assert_eq!(p.to_string(), "block 1 of 3, 0 spans");
        p.add_spans(10);
        p.block_done();
        assert_eq!(p.to_string(), "block 2 of 3, 10 spans");
        p.block_done();
        p.block_done();
        assert_eq!(p.to_string(), "block 3 of 3, 10 spans");
    }
}
