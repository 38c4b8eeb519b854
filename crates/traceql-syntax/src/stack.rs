//! Stack safety for the recursive passes (building, validating and printing the AST).
//!
//! Trees are at most [`MAX_EXPRESSION_DEPTH`](crate::MAX_EXPRESSION_DEPTH) deep, but a deep tree
//! on a small thread stack (a 2 MiB test thread, a debug build) can still exhaust it. Each
//! recursion point runs through [`guarded`], which continues on a fresh heap-allocated stack
//! segment when less than [`RED_ZONE`] bytes remain.

/// Remaining stack below which recursion moves to a new segment.
const RED_ZONE: usize = 128 * 1024;
/// Size of each new stack segment.
const SEGMENT: usize = 2 * 1024 * 1024;

/// Stack the grammar may use per level of bracket nesting (measured: under 1.3 KiB in a debug
/// build; doubled for margin).
const PER_BRACKET: usize = 4 * 1024;

/// Runs `f`, on a new stack segment if the current one is nearly exhausted.
pub(crate) fn guarded<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(RED_ZONE, SEGMENT, f)
}

/// Runs the grammar over text whose brackets nest `depth` deep, making sure first that the
/// stack has room for it (pest refuses to recurse when it runs low).
pub(crate) fn for_brackets<R>(depth: usize, f: impl FnOnce() -> R) -> R {
    let needed = RED_ZONE + depth * PER_BRACKET;
    stacker::maybe_grow(needed, needed.max(SEGMENT), f)
}
