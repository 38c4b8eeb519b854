//! Trace structure as nested sets, computed once per trace at write time.
//!
//! Each span gets an interval `[left, right]` from a depth-first walk, so that *descendant* is
//! interval containment, *child* is `parent_left == left`, and *sibling* is an equal
//! `parent_left`. Rules (spec sections 7.8 and 10):
//! - Spans without a parent are roots; all roots share the parent marker [`ROOT_PARENT`], so
//!   roots are siblings of each other.
//! - A span whose parent never arrived tops an *orphan subtree*: it is a root of its own, and
//!   relations inside the subtree work.
//! - Zipkin-style shared IDs: when two spans (a client and a server) share a span ID, a child
//!   pointing at that ID hangs under the client if the child is itself a server span, and under
//!   the server otherwise.
//! - When more than two spans share one ID, the whole trace gets no structure: every span has
//!   position [`NO_POSITION`]. Spans caught in a parent cycle get no position either.
//!
//! Children are visited in start-time order (then span ID), so the numbering is deterministic.

use rustc_hash::FxHashMap;

use crate::model::{Span, SpanId, SpanKind};

/// `parent_left` of a root span.
pub const ROOT_PARENT: i32 = -1;
/// `left`, `right` and `parent_left` of a span without a structural position.
pub const NO_POSITION: i32 = 0;

/// A span's place in its trace's tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// Left bound (from 1), or [`NO_POSITION`].
    pub left: i32,
    /// Right bound, or [`NO_POSITION`].
    pub right: i32,
    /// The parent's left bound, [`ROOT_PARENT`] for roots, or [`NO_POSITION`].
    pub parent_left: i32,
    /// Number of direct children.
    pub child_count: i32,
}

impl Position {
    const NONE: Position = Position {
        left: NO_POSITION,
        right: NO_POSITION,
        parent_left: NO_POSITION,
        child_count: 0,
    };

    /// True when the span has a place in the tree.
    pub fn is_known(&self) -> bool {
        self.left != NO_POSITION
    }
}

/// The structure of one trace: a position per span and the row order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Structure {
    /// `positions[i]` is the position of `spans[i]`.
    pub positions: Vec<Position>,
    /// Span indexes in row order: by `left`, then spans without a position by start time.
    pub order: Vec<usize>,
}

/// Computes the structure of the spans of one trace.
pub fn compute(spans: &[Span]) -> Structure {
    let n = spans.len();
    let by_start = |a: &usize, b: &usize| {
        (spans[*a].start_time_unix_nano, spans[*a].span_id)
            .cmp(&(spans[*b].start_time_unix_nano, spans[*b].span_id))
    };
    let mut by_id: FxHashMap<SpanId, Vec<usize>> = FxHashMap::default();
    by_id.reserve(n);
    for (i, s) in spans.iter().enumerate() {
        by_id.entry(s.span_id).or_default().push(i);
    }
    if by_id.values().any(|v| v.len() > 2) {
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(by_start);
        return Structure {
            positions: vec![Position::NONE; n],
            order,
        };
    }

    // Resolve each span's parent index: `None` for roots and orphan-subtree tops.
    let parent: Vec<Option<usize>> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let candidates: Vec<usize> = by_id
                .get(&s.parent_span_id?)?
                .iter()
                .copied()
                .filter(|&c| c != i)
                .collect();
            match candidates[..] {
                [] => None,
                [only] => Some(only),
                [a, b] => {
                    let (client, server) = zipkin_pair(spans, a, b);
                    Some(if s.kind == SpanKind::Server {
                        client
                    } else {
                        server
                    })
                }
                _ => None,
            }
        })
        .collect();

    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut roots = Vec::new();
    for (i, p) in parent.iter().enumerate() {
        match p {
            Some(p) => children[*p].push(i),
            None => roots.push(i),
        }
    }
    roots.sort_by(by_start);
    for c in &mut children {
        c.sort_by(by_start);
    }

    // Iterative depth-first numbering: deep chains must not overflow the stack.
    let mut positions = vec![Position::NONE; n];
    let mut order = Vec::with_capacity(n);
    let mut counter: i32 = 0;
    let mut stack: Vec<(usize, usize)> = Vec::new(); // (span, next child to visit)
    for &root in &roots {
        counter += 1;
        positions[root] = Position {
            left: counter,
            right: NO_POSITION,
            parent_left: ROOT_PARENT,
            child_count: children[root].len() as i32,
        };
        order.push(root);
        stack.push((root, 0));
        while let Some((span, next)) = stack.last_mut() {
            let span = *span;
            if let Some(&child) = children[span].get(*next) {
                *next += 1;
                counter += 1;
                positions[child] = Position {
                    left: counter,
                    right: NO_POSITION,
                    parent_left: positions[span].left,
                    child_count: children[child].len() as i32,
                };
                order.push(child);
                stack.push((child, 0));
            } else {
                counter += 1;
                positions[span].right = counter;
                stack.pop();
            }
        }
    }

    // Spans in parent cycles were never reached from a root.
    if order.len() < n {
        let mut unreached: Vec<usize> = (0..n).filter(|i| !positions[*i].is_known()).collect();
        unreached.sort_by(by_start);
        order.extend(unreached);
    }
    Structure { positions, order }
}

/// Orders the two spans sharing an ID as (client, server): the client is the one of kind
/// client, else the one that starts first.
fn zipkin_pair(spans: &[Span], a: usize, b: usize) -> (usize, usize) {
    match (spans[a].kind, spans[b].kind) {
        (SpanKind::Client, _) => (a, b),
        (_, SpanKind::Client) => (b, a),
        _ if (spans[a].start_time_unix_nano, a) <= (spans[b].start_time_unix_nano, b) => (a, b),
        _ => (b, a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: u8, parent: Option<u8>, start: u64) -> Span {
        Span {
            span_id: [0, 0, 0, 0, 0, 0, 0, id],
            parent_span_id: parent.map(|p| [0, 0, 0, 0, 0, 0, 0, p]),
            start_time_unix_nano: start,
            ..Span::default()
        }
    }

    fn positions(spans: &[Span]) -> Vec<(i32, i32, i32, i32)> {
        compute(spans)
            .positions
            .iter()
            .map(|p| (p.left, p.right, p.parent_left, p.child_count))
            .collect()
    }

    #[test]
    fn simple_tree() {
        // 1 ─┬─ 2 ── 4
        //    └─ 3
        let spans = [
            span(1, None, 0),
            span(2, Some(1), 1),
            span(3, Some(1), 2),
            span(4, Some(2), 3),
        ];
        assert_eq!(
            positions(&spans),
            [(1, 8, -1, 2), (2, 5, 1, 1), (6, 7, 1, 0), (3, 4, 2, 0)]
        );
        assert_eq!(compute(&spans).order, [0, 1, 3, 2]);
    }

    #[test]
    fn multiple_roots_are_siblings_and_orphans_root_their_own_subtree() {
        // Two roots, and an orphan (parent 9 never arrived) with a child.
        let spans = [
            span(1, None, 0),
            span(2, None, 5),
            span(3, Some(9), 1),
            span(4, Some(3), 2),
        ];
        let p = positions(&spans);
        assert_eq!(p[0], (1, 2, -1, 0));
        assert_eq!(p[2], (3, 6, -1, 1));
        assert_eq!(p[3], (4, 5, 3, 0));
        assert_eq!(p[1], (7, 8, -1, 0));
    }

    #[test]
    fn deep_chain_does_not_recurse() {
        let spans: Vec<Span> = (0..200_000u32)
            .map(|i| {
                let id = |v: u32| {
                    let mut b = [0u8; 8];
                    b[4..].copy_from_slice(&v.to_be_bytes());
                    b
                };
                Span {
                    span_id: id(i + 1),
                    parent_span_id: (i > 0).then(|| id(i)),
                    start_time_unix_nano: u64::from(i),
                    ..Span::default()
                }
            })
            .collect();
        let s = compute(&spans);
        assert_eq!(s.positions[0].right, 400_000);
        assert_eq!(s.positions[199_999].left, 200_000);
    }

    #[test]
    fn wide_fan_out() {
        let mut spans = vec![span(1, None, 0)];
        spans.extend((2..=200u8).map(|i| span(i, Some(1), u64::from(i))));
        let s = compute(&spans);
        assert_eq!(s.positions[0].child_count, 199);
        assert_eq!(s.positions[0].right, 400);
        assert!(
            s.positions[1..]
                .iter()
                .all(|p| p.parent_left == 1 && p.right == p.left + 1)
        );
    }

    #[test]
    fn zipkin_shared_ids_attach_by_kind() {
        // Client 2 and server 2 share an ID (the server's parent is the client's parent).
        let mut client = span(2, Some(1), 1);
        client.kind = SpanKind::Client;
        let mut server = span(2, Some(1), 2);
        server.kind = SpanKind::Server;
        let mut downstream_server = span(3, Some(2), 3);
        downstream_server.kind = SpanKind::Server;
        let internal = span(4, Some(2), 4);
        let spans = [
            span(1, None, 0),
            client,
            server,
            downstream_server,
            internal,
        ];
        let p = compute(&spans).positions;
        assert_eq!(
            p[3].parent_left, p[1].left,
            "a server child hangs under the client"
        );
        assert_eq!(
            p[4].parent_left, p[2].left,
            "any other child hangs under the server"
        );
        // A server whose parent ID is the shared ID itself hangs under its client.
        let mut client = span(2, Some(1), 1);
        client.kind = SpanKind::Client;
        let mut server = span(2, Some(2), 2);
        server.kind = SpanKind::Server;
        let p = compute(&[span(1, None, 0), client, server]).positions;
        assert_eq!(p[2].parent_left, p[1].left);
    }

    #[test]
    fn three_spans_sharing_an_id_remove_all_structure() {
        let spans = [
            span(1, None, 0),
            span(2, Some(1), 1),
            span(2, Some(1), 2),
            span(2, Some(1), 3),
        ];
        let s = compute(&spans);
        assert!(s.positions.iter().all(|p| *p == Position::NONE));
        assert_eq!(s.order, [0, 1, 2, 3]);
    }

    #[test]
    fn cycles_get_no_position() {
        let spans = [span(1, None, 0), span(2, Some(3), 1), span(3, Some(2), 2)];
        let s = compute(&spans);
        assert_eq!(
            s.positions[0],
            Position {
                left: 1,
                right: 2,
                parent_left: -1,
                child_count: 0
            }
        );
        assert!(!s.positions[1].is_known() && !s.positions[2].is_known());
        assert_eq!(s.order, [0, 1, 2]);
    }
}
