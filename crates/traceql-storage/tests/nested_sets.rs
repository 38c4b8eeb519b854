//! Nested sets against a naive parent-pointer walk on random trees.

use proptest::prelude::*;
use traceql_storage::model::Span;
use traceql_storage::nested_set::{ROOT_PARENT, compute};

fn id(i: usize) -> [u8; 8] {
    ((i as u64) + 1).to_be_bytes()
}

/// Random forests: span `i`'s parent is an earlier span, none (a root) or a missing span (an
/// orphan), in shuffled order with random start times.
fn forest() -> impl Strategy<Value = Vec<Span>> {
    (1usize..60).prop_flat_map(|n| {
        let parents = (0..n)
            .map(|i| {
                if i == 0 {
                    Just(None).boxed()
                } else {
                    prop_oneof![
                        8 => (0..i).prop_map(|p| Some(id(p))).boxed(),
                        1 => Just(None).boxed(),
                        1 => Just(Some(id(10_000 + i))).boxed(),
                    ]
                    .boxed()
                }
            })
            .collect::<Vec<_>>();
        (parents, prop::collection::vec(0u64..1000, n), Just(n)).prop_flat_map(
            |(parents, starts, n)| {
                let spans: Vec<Span> = (0..n)
                    .map(|i| Span {
                        span_id: id(i),
                        parent_span_id: parents[i],
                        start_time_unix_nano: starts[i],
                        ..Span::default()
                    })
                    .collect();
                Just(spans).prop_shuffle()
            },
        )
    })
}

/// Index of the parent span of `spans[i]`, if it is in the trace.
fn naive_parent(spans: &[Span], i: usize) -> Option<usize> {
    let p = spans[i].parent_span_id?;
    spans.iter().position(|s| s.span_id == p)
}

fn naive_is_ancestor(spans: &[Span], a: usize, mut b: usize) -> bool {
    while let Some(p) = naive_parent(spans, b) {
        if p == a {
            return true;
        }
        b = p;
    }
    false
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn containment_and_parent_left_match_the_parent_pointers(spans in forest()) {
        let s = compute(&spans);
        let p = &s.positions;
        for i in 0..spans.len() {
            prop_assert!(p[i].is_known());
            prop_assert!(p[i].left < p[i].right);
            match naive_parent(&spans, i) {
                Some(parent) => prop_assert_eq!(p[i].parent_left, p[parent].left),
                None => prop_assert_eq!(p[i].parent_left, ROOT_PARENT),
            }
            let children = (0..spans.len()).filter(|&c| naive_parent(&spans, c) == Some(i)).count();
            prop_assert_eq!(p[i].child_count as usize, children);
            for j in 0..spans.len() {
                let contained = p[i].left < p[j].left && p[j].right < p[i].right;
                prop_assert_eq!(contained, naive_is_ancestor(&spans, i, j), "{} vs {}", i, j);
            }
        }
        // Row order is left order.
        let lefts: Vec<i32> = s.order.iter().map(|&i| p[i].left).collect();
        prop_assert!(lefts.windows(2).all(|w| w[0] < w[1]));
        let mut seen = s.order.clone();
        seen.sort_unstable();
        prop_assert_eq!(seen, (0..spans.len()).collect::<Vec<_>>());
    }
}
