//! Trace by ID across blocks, and Tempo's trace JSON read back by our OTLP decoder.

use traceql_engine::trace_by_id::{parse_trace_id, trace_by_id, v1_json, v2_json};
use traceql_storage::catalog::Catalog;
use traceql_storage::generator::{Generator, GeneratorConfig};
use traceql_storage::model::{Span, Trace};
use traceql_storage::otlp::{self, Format};
use traceql_storage::writer::{WriteOptions, write_block};

fn ids(spans: &[Span]) -> Vec<[u8; 8]> {
    let mut v: Vec<_> = spans.iter().map(|s| s.span_id).collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_split_across_blocks_comes_back_whole() {
    let catalog =
        Catalog::open(&format!("memory://trace-by-id-{}", uuid::Uuid::new_v4())).expect("catalog");
    let traces = Generator::new(GeneratorConfig::default()).traces(0..50);
    let wanted = traces[17].clone();
    let (first, second): (Vec<Span>, Vec<Span>) = wanted
        .spans
        .iter()
        .cloned()
        .partition(|s| s.span_id[7] % 2 == 0);
    let mut a = traces[..25].to_vec();
    a.retain(|t| t.trace_id != wanted.trace_id);
    a.push(Trace {
        trace_id: wanted.trace_id,
        spans: first,
    });
    let mut b = traces[25..].to_vec();
    b.push(Trace {
        trace_id: wanted.trace_id,
        spans: second,
    });
    let options = WriteOptions::default();
    write_block(&catalog, "t", a, &options, vec![], 0)
        .await
        .expect("block a");
    write_block(&catalog, "t", b, &options, vec![], 0)
        .await
        .expect("block b");

    let id = parse_trace_id(&hex::encode(wanted.trace_id)).expect("id");
    let found = trace_by_id(&catalog, "t", &id)
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(found.blocks, 2);
    assert_eq!(ids(&found.trace.spans), ids(&wanted.spans));
    assert!(
        trace_by_id(&catalog, "t", &[7; 16])
            .await
            .expect("lookup")
            .is_none()
    );

    // Both JSON shapes decode back to the same spans.
    for json in [v2_json(&found.trace), v1_json(&found.trace)] {
        let back = otlp::decode(json.as_bytes(), Format::Json, "trace.json").expect("decode");
        assert_eq!(ids(&back), ids(&wanted.spans));
        let by_id = |spans: &[Span], id: [u8; 8]| spans.iter().find(|s| s.span_id == id).cloned();
        for s in &wanted.spans {
            let b = by_id(&back, s.span_id).expect("span");
            assert_eq!(
                (
                    b.name.clone(),
                    b.kind,
                    b.status_code,
                    b.start_time_unix_nano
                ),
                (
                    s.name.clone(),
                    s.kind,
                    s.status_code,
                    s.start_time_unix_nano
                )
            );
            assert_eq!(b.parent_span_id, s.parent_span_id);
        }
    }
    let v2 = v2_json(&found.trace);
    assert!(
        v2.starts_with(r#"{"trace":{"resourceSpans":[{"resource":{"attributes":"#),
        "{}",
        &v2[..80]
    );
    assert!(v2.contains(r#""kind":"SPAN_KIND_SERVER""#));
}
