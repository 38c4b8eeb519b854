//! Compaction merges a trace split across blocks, and no crash point counts a span twice or
//! loses one.

use std::collections::HashSet;

use traceql_storage::catalog::Catalog;
use traceql_storage::compact::{cleanup, compact};
use traceql_storage::generator::{Generator, GeneratorConfig};
use traceql_storage::model::{Span, Trace};
use traceql_storage::nested_set;
use traceql_storage::read::read_block;
use traceql_storage::writer::{WriteOptions, write_block};

fn catalog() -> Catalog {
    Catalog::open(&format!("memory://compaction-{}", uuid::Uuid::new_v4())).expect("memory catalog")
}

async fn live_spans(catalog: &Catalog) -> Vec<Span> {
    let mut spans = Vec::new();
    for block in catalog.list_blocks("t").await.expect("list") {
        spans.extend(
            read_block(catalog, &block)
                .await
                .expect("read")
                .into_iter()
                .flat_map(|t| t.spans),
        );
    }
    spans
}

fn ids(spans: &[Span]) -> Vec<([u8; 16], [u8; 8])> {
    let mut v: Vec<_> = spans.iter().map(|s| (s.trace_id, s.span_id)).collect();
    v.sort();
    v
}

/// Two blocks, each holding half of every trace's spans.
async fn split_traces(catalog: &Catalog) -> (Vec<Trace>, Vec<String>) {
    let traces = Generator::new(GeneratorConfig::default()).traces(0..40);
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for t in &traces {
        let (a, b): (Vec<_>, Vec<_>) = t
            .spans
            .iter()
            .cloned()
            .enumerate()
            .partition(|(i, _)| i % 2 == 0);
        first.push(Trace {
            trace_id: t.trace_id,
            spans: a.into_iter().map(|(_, s)| s).collect(),
        });
        second.push(Trace {
            trace_id: t.trace_id,
            spans: b.into_iter().map(|(_, s)| s).collect(),
        });
    }
    let options = WriteOptions::default();
    let a = write_block(catalog, "t", first, &options, vec![], 0)
        .await
        .expect("write");
    let b = write_block(catalog, "t", second, &options, vec![], 0)
        .await
        .expect("write");
    (traces, vec![a.block_id, b.block_id])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_merges_split_traces_and_recomputes_structure() {
    let catalog = catalog();
    let (traces, inputs) = split_traces(&catalog).await;
    let all: Vec<Span> = traces.iter().flat_map(|t| t.spans.clone()).collect();
    // Before: each half-trace is full of orphans.
    let done = compact(&catalog, "t", None, &WriteOptions::default())
        .await
        .expect("compact")
        .expect("two blocks");
    let mut replaced = inputs.clone();
    replaced.sort();
    assert_eq!(done.replaced, replaced);
    assert_eq!(done.duplicates_dropped, 0);
    assert_eq!(done.block.span_count as usize, all.len());
    assert_eq!(done.block.trace_count as usize, traces.len());
    let blocks = catalog.list_blocks("t").await.expect("list");
    assert_eq!(blocks, vec![done.block.clone()]);
    assert!(
        catalog.all_blocks("t").await.expect("all").len() == 1,
        "inputs deleted"
    );
    // After: every trace is whole again, with one root and every span in the tree.
    let merged = read_block(&catalog, &done.block).await.expect("read");
    assert_eq!(merged.len(), traces.len());
    for t in &merged {
        let structure = nested_set::compute(&t.spans);
        assert!(structure.positions.iter().all(|p| p.is_known()));
        assert_eq!(
            t.spans
                .iter()
                .filter(|s| s.parent_span_id.is_none())
                .count(),
            1
        );
    }
    assert_eq!(ids(&live_spans(&catalog).await), ids(&all));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_commit_and_deletes_counts_no_span_twice() {
    let catalog = catalog();
    let (traces, inputs) = split_traces(&catalog).await;
    let all: Vec<Span> = traces.iter().flat_map(|t| t.spans.clone()).collect();
    // Simulate a compactor that committed its block and died before deleting the inputs.
    let merged = write_block(
        &catalog,
        "t",
        traces.clone(),
        &WriteOptions::default(),
        inputs.clone(),
        1,
    )
    .await
    .expect("write");
    assert_eq!(catalog.all_blocks("t").await.expect("all").len(), 3);
    let live = catalog.list_blocks("t").await.expect("list");
    assert_eq!(live, vec![merged.clone()]);
    assert_eq!(
        ids(&live_spans(&catalog).await),
        ids(&all),
        "nothing counted twice"
    );
    // The next compaction pass removes the leftovers first.
    let deleted = cleanup(&catalog, "t", None).await.expect("cleanup");
    let mut expected = inputs.clone();
    expected.sort();
    assert_eq!(deleted, expected);
    assert_eq!(catalog.all_blocks("t").await.expect("all"), vec![merged]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaced_blocks_never_come_back() {
    // A1, A2 → B (A1 survives a crash); B, C → D. Deleting B must not revive A1.
    let catalog = catalog();
    let g = Generator::new(GeneratorConfig::default());
    let options = WriteOptions::default();
    let a1 = write_block(&catalog, "t", g.traces(0..5), &options, vec![], 0)
        .await
        .expect("a1");
    let a2 = write_block(&catalog, "t", g.traces(5..10), &options, vec![], 0)
        .await
        .expect("a2");
    let b = write_block(
        &catalog,
        "t",
        g.traces(0..10),
        &options,
        vec![a1.block_id.clone(), a2.block_id.clone()],
        1,
    )
    .await
    .expect("b");
    catalog
        .delete_block("t", &a2.block_id)
        .await
        .expect("delete a2");
    let c = write_block(&catalog, "t", g.traces(10..15), &options, vec![], 0)
        .await
        .expect("c");
    // Compact only B and C, as a compactor unaware of A1 would.
    let d = compact(
        &catalog,
        "t",
        Some(&[b.block_id.clone(), c.block_id.clone()]),
        &options,
    )
    .await
    .expect("compact")
    .expect("two blocks");
    assert!(d.block.compacted_from.contains(&a1.block_id), "transitive");
    let live: HashSet<String> = catalog
        .list_blocks("t")
        .await
        .expect("list")
        .into_iter()
        .map(|b| b.block_id)
        .collect();
    assert_eq!(live, HashSet::from([d.block.block_id.clone()]));
    assert_eq!(live_spans(&catalog).await.len() as u64, d.block.span_count);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_spans_are_dropped_once() {
    let catalog = catalog();
    let g = Generator::new(GeneratorConfig::default());
    let options = WriteOptions::default();
    // The same traces ingested twice.
    write_block(&catalog, "t", g.traces(0..5), &options, vec![], 0)
        .await
        .expect("first");
    write_block(&catalog, "t", g.traces(0..5), &options, vec![], 0)
        .await
        .expect("second");
    let spans: usize = g.traces(0..5).iter().map(|t| t.spans.len()).sum();
    let done = compact(&catalog, "t", None, &options)
        .await
        .expect("compact")
        .expect("two");
    assert_eq!(done.duplicates_dropped as usize, spans);
    assert_eq!(done.block.span_count as usize, spans);
    assert!(
        compact(&catalog, "t", None, &options)
            .await
            .expect("compact")
            .is_none(),
        "one block left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_writes_are_cleaned_after_the_grace_period() {
    let catalog = catalog();
    let store = catalog.store();
    let path = object_store::path::Path::from("t/abandoned/data.parquet");
    object_store::ObjectStoreExt::put(
        store.as_ref(),
        &path,
        object_store::PutPayload::from_static(b"partial"),
    )
    .await
    .expect("put");
    let kept = cleanup(&catalog, "t", Some(std::time::Duration::from_secs(3600)))
        .await
        .expect("cleanup");
    assert!(kept.is_empty(), "too recent to be abandoned");
    let deleted = cleanup(&catalog, "t", Some(std::time::Duration::ZERO))
        .await
        .expect("cleanup");
    assert_eq!(deleted, vec!["abandoned".to_string()]);
}
