//! Random layouts of generated traces over blocks and row groups, and random spanset filters,
//! for the proptests that compare the columnar path with the reference path.

use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use traceql_storage::catalog::Catalog;
use traceql_storage::generator::{Generator, GeneratorConfig};
use traceql_storage::model::Trace;
use traceql_storage::writer::{WriteOptions, write_block};

/// How much later the second part of a split trace starts.
pub const LATE_NANOS: u64 = 1_800_000_000_000;

/// How the generated traces are laid out: blocks, row-group size, split traces.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The generator's seed.
    pub seed: u64,
    /// Traces generated.
    pub traces: u64,
    /// Block of each trace (by index, cycled).
    pub blocks: Vec<u8>,
    /// Every `split`-th trace has its spans spread over two blocks, the second part half an
    /// hour later (0: none).
    pub split: u64,
    /// Spans per row group.
    pub row_group_spans: usize,
}

/// Any layout: 20–80 traces over 1–3 blocks, row groups of 40, 150 or 65,536 spans, some traces
/// split.
pub fn layout() -> impl Strategy<Value = Layout> {
    (
        any::<u64>(),
        20u64..80,
        proptest::collection::vec(0u8..3, 1..8),
        prop_oneof![Just(0u64), 2u64..6, 2u64..6],
        proptest::sample::select(&[40usize, 150, 65_536][..]),
    )
        .prop_map(|(seed, traces, blocks, split, row_group_spans)| Layout {
            seed,
            traces,
            blocks,
            split,
            row_group_spans,
        })
}

/// The runtime every case runs on.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
    })
}

/// An in-memory catalog holding the blocks of `layout` (tenant `t`).
pub async fn catalog(layout: &Layout) -> Catalog {
    let catalog = Catalog::open(&format!("memory://prop-{}", uuid::Uuid::new_v4())).expect("open");
    let config = GeneratorConfig {
        seed: layout.seed,
        ..GeneratorConfig::default()
    };
    let mut parts: Vec<Vec<Trace>> = vec![Vec::new(); 3];
    for (i, trace) in Generator::new(config)
        .traces(0..layout.traces)
        .into_iter()
        .enumerate()
    {
        let home = usize::from(layout.blocks[i % layout.blocks.len()]);
        if layout.split > 0 && (i as u64).is_multiple_of(layout.split) && trace.spans.len() > 1 {
            let other = (home + 1) % 3;
            let (mut mine, mut theirs) = (Vec::new(), Vec::new());
            for (j, mut span) in trace.spans.into_iter().enumerate() {
                match j % 2 {
                    0 => mine.push(span),
                    _ => {
                        // Arriving much later: the part sorts far from the other one.
                        span.start_time_unix_nano += LATE_NANOS;
                        span.end_time_unix_nano += LATE_NANOS;
                        theirs.push(span);
                    }
                }
            }
            parts[home].push(Trace {
                trace_id: trace.trace_id,
                spans: mine,
            });
            parts[other].push(Trace {
                trace_id: trace.trace_id,
                spans: theirs,
            });
        } else {
            parts[home].push(trace);
        }
    }
    let options = WriteOptions {
        row_group_spans: layout.row_group_spans,
        ..WriteOptions::default()
    };
    for part in parts.into_iter().filter(|p| !p.is_empty()) {
        write_block(&catalog, "t", part, &options, vec![], 0)
            .await
            .expect("block");
    }
    catalog
}

/// Fails unless the columnar path and the reference agree on `query`: both answered and `same`
/// accepts the answers, or both failed with the same message.
pub fn same_outcome<T: std::fmt::Debug, E: std::fmt::Display + std::fmt::Debug>(
    query: &str,
    columnar: Result<T, E>,
    reference: Result<T, E>,
    same: impl FnOnce(T, T) -> Result<(), TestCaseError>,
) -> Result<(), TestCaseError> {
    match (columnar, reference) {
        (Ok(c), Ok(r)) => same(c, r),
        (Err(c), Err(r)) => {
            prop_assert_eq!(c.to_string(), r.to_string(), "{}", query);
            Ok(())
        }
        (c, r) => Err(TestCaseError::fail(format!(
            "{query}: columnar {c:?}, reference {r:?}"
        ))),
    }
}

/// Conditions inside `{ … }`, over the generator's services and attributes.
const CONDITIONS: &[&str] = &[
    "true",
    "status = error",
    "kind = server",
    "kind = client",
    r#"resource.service.name = "frontend""#,
    r#"resource.service.name = "checkout""#,
    r#"resource.service.name =~ "check.*|cart""#,
    "duration > 5ms",
    r#"name =~ "GET.*""#,
    "span.http.response.status_code >= 500",
    r#"span.db.system = "postgresql""#,
    r#"rootServiceName = "frontend""#,
    "span.http.route != nil",
    r#".db.system = "postgresql""#,
    // Evaluated per event (link) in the scan, or loosened to "has events (links)".
    r#"event:name = "exception""#,
    r#"event.exception.type =~ "Product.*" || link:spanID =~ "[0-9a-f]+""#,
    r#"event:name != "exception""#,
    r#"!(event:name = "exception" && event:timeSinceStart > 2ms)"#,
    r#"(event.exception.type != nil || kind = client) && !(link:spanID =~ "f.*")"#,
    // An array: any element.
    r#"span.app.product.ids = "66VCHSJNUP" || span.app.product.ids = nil"#,
];

/// A spanset filter: one condition, or two joined by `&&` or `||`.
pub fn filter() -> impl Strategy<Value = String> {
    let condition = || proptest::sample::select(CONDITIONS);
    prop_oneof![
        condition().prop_map(|c| format!("{{ {c} }}")),
        (condition(), condition(), any::<bool>())
            .prop_map(|(a, b, and)| { format!("{{ {a} {} {b} }}", if and { "&&" } else { "||" }) }),
    ]
}
