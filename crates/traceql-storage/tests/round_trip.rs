//! OTLP in → block → read back → equal spans, for every value type, events, links and scopes.

use std::path::PathBuf;
use std::sync::Arc;

use traceql_storage::catalog::Catalog;
use traceql_storage::model::{KeyValue, Resource, Scope, Span, SpanKind, StatusCode, Trace, Value};
use traceql_storage::otlp::{self, Format, proto};
use traceql_storage::read::read_block;
use traceql_storage::writer::{WriteOptions, group_traces, write_block};

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/otlp")
        .join(name)
}

/// Attributes are a map in OTLP: compare them in key order (repeated keys by value).
fn normalized(mut spans: Vec<Span>) -> Vec<Span> {
    let sort = |kvs: &mut Vec<KeyValue>| {
        kvs.sort_by_cached_key(|kv| (kv.key.clone(), format!("{:?}", kv.value)))
    };
    for s in &mut spans {
        sort(&mut s.attributes);
        let mut r: Resource = (*s.resource).clone();
        sort(&mut r.attributes);
        s.resource = Arc::new(r);
        let mut sc: Scope = (*s.scope).clone();
        sort(&mut sc.attributes);
        s.scope = Arc::new(sc);
        for e in &mut s.events {
            sort(&mut e.attributes);
        }
        for l in &mut s.links {
            sort(&mut l.attributes);
        }
    }
    spans.sort_by_key(|s| (s.trace_id, s.span_id));
    spans
}

/// Doubles compare bit for bit (NaN included).
fn assert_same(a: &[Span], b: &[Span]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!(
            format!("{x:?}"),
            format!("{y:?}"),
            "span {}",
            hex::encode(x.span_id)
        );
    }
}

async fn write_and_read(spans: Vec<Span>, options: &WriteOptions) -> Vec<Span> {
    let name = format!("memory://round-trip-{}", uuid::Uuid::new_v4());
    let catalog = Catalog::open(&name).expect("memory catalog");
    let meta = write_block(&catalog, "t", group_traces(spans), options, vec![], 0)
        .await
        .expect("write");
    let blocks = catalog.list_blocks("t").await.expect("list");
    assert_eq!(blocks, vec![meta.clone()]);
    let traces = read_block(&catalog, &meta).await.expect("read");
    traces.into_iter().flat_map(|t| t.spans).collect()
}

#[test]
fn every_field_decodes() {
    let spans = otlp::decode_file(&testdata("every_field.json")).expect("decode");
    assert_eq!(spans.len(), 3);
    let root = &spans[0];
    assert_eq!(
        hex::encode(root.trace_id),
        "5b8efff798038103d269b633813fc60c"
    );
    assert_eq!(root.parent_span_id, None);
    assert_eq!(root.kind, SpanKind::Server);
    assert_eq!(root.status_code, StatusCode::Error);
    assert_eq!(root.status_message, "payment declined");
    assert_eq!(
        (root.flags, root.trace_state.as_str()),
        (257, "vendor=value")
    );
    assert_eq!(
        (
            root.dropped_attributes_count,
            root.dropped_events_count,
            root.dropped_links_count
        ),
        (3, 5, 7)
    );
    assert_eq!(root.resource.service_name(), "checkout");
    assert_eq!(root.resource.dropped_attributes_count, 1);
    assert_eq!(
        (
            root.scope.name.as_str(),
            root.scope.version.as_str(),
            root.scope.dropped_attributes_count
        ),
        ("my.library", "1.0.0", 2)
    );
    let attr = |k: &str| {
        root.attributes
            .iter()
            .find(|kv| kv.key == k)
            .map(|kv| kv.value.clone())
    };
    assert_eq!(attr("http.response.status_code"), Some(Value::Int(200)));
    assert_eq!(attr("ratio"), Some(Value::Double(0.25)));
    assert_eq!(attr("retried"), Some(Value::Bool(true)));
    assert_eq!(
        attr("ports"),
        Some(Value::Array(vec![Value::Int(80), Value::Int(443)]))
    );
    assert_eq!(attr("empty"), Some(Value::Array(vec![])));
    assert_eq!(attr("raw"), Some(Value::Bytes(vec![0, 1, 2, 255])));
    assert_eq!(
        attr("map"),
        Some(Value::KvList(vec![KeyValue::new("inner", Value::Int(-5))]))
    );
    assert_eq!(root.events[0].time_unix_nano, 1_544_712_660_300_000_000);
    assert_eq!(root.events[0].dropped_attributes_count, 4);
    assert_eq!(
        hex::encode(root.links[0].trace_id),
        "0000000000000000000000000000abcd"
    );
    assert_eq!(
        (root.links[0].flags, root.links[0].dropped_attributes_count),
        (1, 6)
    );
    assert_eq!(spans[1].kind, SpanKind::Client);
    assert_eq!(spans[1].status_code, StatusCode::Ok);
    assert_eq!(spans[2].resource.service_name(), "payments");
}

#[test]
fn tempo_batches_with_base64_ids_decode_the_same() {
    let otlp_json = otlp::decode_file(&testdata("every_field.json")).expect("decode");
    let tempo = otlp::decode_file(&testdata("tempo_batches.json")).expect("decode");
    assert_same(&otlp_json, &tempo);
}

#[test]
fn protobuf_round_trips_through_encode() {
    let spans = otlp::decode_file(&testdata("every_field.json")).expect("decode");
    let bytes = proto::encode(&spans);
    let again = otlp::decode(&bytes, Format::Protobuf, "encoded").expect("decode protobuf");
    assert_same(&spans, &again);
}

#[test]
fn json_lines_of_documents_decode() {
    let one = std::fs::read_to_string(testdata("every_field.json")).expect("read");
    let compact: serde_json::Value = serde_json::from_str(&one).expect("json");
    let lines = format!("{compact}\n{compact}\n");
    let spans = otlp::decode(lines.as_bytes(), Format::Json, "lines").expect("decode");
    assert_eq!(spans.len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_round_trip_keeps_every_field() {
    let spans = otlp::decode_file(&testdata("every_field.json")).expect("decode");
    let back = write_and_read(spans.clone(), &WriteOptions::default()).await;
    assert_same(&normalized(spans), &normalized(back));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_round_trip_with_dedicated_columns_and_many_row_groups() {
    // Every key frequent enough to be dedicated, and row groups of a few spans.
    let options = WriteOptions {
        row_group_spans: 2,
        dedicated_min_fraction: 0.0,
        ..WriteOptions::default()
    };
    let mut spans = otlp::decode_file(&testdata("every_field.json")).expect("decode");
    // A second trace so that row groups hold different traces.
    let mut other = spans.clone();
    for s in &mut other {
        s.trace_id[0] ^= 0xff;
        s.start_time_unix_nano += 1;
    }
    spans.extend(other);
    let back = write_and_read(spans.clone(), &options).await;
    assert_same(&normalized(spans), &normalized(back));
}

#[test]
fn json_round_trips_through_encode() {
    let spans = otlp::decode_file(&testdata("every_field.json")).expect("decode");
    let text = otlp::encode_json(&spans);
    let again = otlp::decode(text.as_bytes(), Format::Json, "encoded").expect("decode json");
    assert_same(&spans, &again);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_lookup_reads_one_row_group() {
    use traceql_storage::generator::{Generator, GeneratorConfig};
    use traceql_storage::read::find_trace;
    let catalog = Catalog::open(&format!("memory://lookup-{}", uuid::Uuid::new_v4()))
        .expect("memory catalog");
    let traces = Generator::new(GeneratorConfig::default()).traces(0..400);
    let options = WriteOptions {
        row_group_spans: 200,
        ..WriteOptions::default()
    };
    let meta = write_block(&catalog, "t", traces.clone(), &options, vec![], 0)
        .await
        .expect("write");
    assert!(meta.row_groups >= 8, "{} row groups", meta.row_groups);
    // The bloom filter may let a lookup read a second row group (0.1% false positives per
    // row group); over all traces that stays rare.
    let mut total_read = 0;
    let sample: Vec<&Trace> = traces.iter().step_by(10).collect();
    for wanted in &sample {
        let (found, groups_read) = find_trace(&catalog, &meta, &wanted.trace_id)
            .await
            .expect("lookup");
        assert!(groups_read >= 1);
        total_read += groups_read;
        let found = found.expect("present");
        assert_eq!(normalized(found.spans), normalized(wanted.spans.clone()));
    }
    assert!(
        total_read <= sample.len() + sample.len() / 10,
        "{total_read} row groups for {} lookups",
        sample.len()
    );
    let (missing, _) = find_trace(&catalog, &meta, &[0x42; 16])
        .await
        .expect("lookup");
    assert!(missing.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_attribute_keys_are_all_kept() {
    let mut spans = otlp::decode_file(&testdata("every_field.json")).expect("decode");
    // A key that becomes a dedicated column, repeated on one span and on its resource.
    spans[1]
        .attributes
        .push(KeyValue::new("db.system", Value::String("mysql".into())));
    let mut resource = (*spans[1].resource).clone();
    resource
        .attributes
        .push(KeyValue::new("service.name", Value::String("again".into())));
    spans[1].resource = Arc::new(resource);
    let options = WriteOptions {
        dedicated_min_fraction: 0.0,
        ..WriteOptions::default()
    };
    let back = write_and_read(spans.clone(), &options).await;
    assert_same(&normalized(spans), &normalized(back));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_reads_back_one_row_group_at_a_time() {
    use traceql_storage::generator::{Generator, GeneratorConfig};
    use traceql_storage::read::BlockReader;

    let catalog =
        Catalog::open(&format!("memory://row-groups-{}", uuid::Uuid::new_v4())).expect("catalog");
    let traces = Generator::new(GeneratorConfig::default()).traces(0..300);
    let options = WriteOptions {
        row_group_spans: 500,
        ..WriteOptions::default()
    };
    let meta = write_block(&catalog, "t", traces, &options, vec![], 0)
        .await
        .expect("write");
    assert!(meta.row_groups > 2, "{} row groups", meta.row_groups);

    let mut reader = BlockReader::open(&catalog, &meta).await.expect("open");
    let mut groups = 0;
    let mut streamed = Vec::new();
    while let Some(group) = reader.next_row_group().await.expect("row group") {
        groups += 1;
        assert!(group.decoded_bytes > 0);
        assert!(!group.traces.is_empty());
        streamed.extend(group.traces);
    }
    assert_eq!(groups, meta.row_groups as usize);
    // Whole traces per row group: streaming gives exactly what reading the block at once gives.
    let whole = read_block(&catalog, &meta).await.expect("read");
    assert_eq!(streamed.len() as u64, meta.trace_count);
    assert_eq!(streamed, whole);
}

/// Generated traces as collector-sized messages (100 traces each): protobuf `TracesData`
/// messages and OTLP/JSON documents, one per message.
fn generated_messages(traces: u64) -> (Vec<Vec<u8>>, Vec<String>) {
    use traceql_storage::generator::{Generator, GeneratorConfig};
    let generated = Generator::new(GeneratorConfig::default()).traces(0..traces);
    generated
        .chunks(100)
        .map(|chunk| {
            let spans: Vec<Span> = chunk.iter().flat_map(|t| t.spans.clone()).collect();
            (proto::encode(&spans), otlp::encode_json(&spans))
        })
        .unzip()
}

#[test]
fn a_large_input_decodes_in_pieces_to_the_spans_of_its_messages() {
    // Several MiB in either encoding: more than one piece on any machine.
    let (protos, jsons) = generated_messages(1_000);
    let one_by_one = |messages: &[&[u8]], format| -> Vec<Span> {
        messages
            .iter()
            .flat_map(|m| otlp::decode(m, format, "message").expect("message decodes"))
            .collect()
    };
    let proto_refs: Vec<&[u8]> = protos.iter().map(Vec::as_slice).collect();
    let json_refs: Vec<&[u8]> = jsons.iter().map(String::as_bytes).collect();
    let expected = one_by_one(&proto_refs, Format::Protobuf);
    assert_same(&expected, &one_by_one(&json_refs, Format::Json));

    let proto_file = protos.concat();
    let pieces = otlp::decode_pieces(&proto_file, Format::Protobuf, "big.pb").expect("decode");
    assert!(pieces.len() > 1, "{} bytes in one piece", proto_file.len());
    assert_same(&expected, &pieces.concat());

    let json_file = jsons.join("\n");
    let pieces =
        otlp::decode_pieces(json_file.as_bytes(), Format::Json, "big.jsonl").expect("decode");
    assert!(pieces.len() > 1, "{} bytes in one piece", json_file.len());
    assert_same(&expected, &pieces.concat());
}

#[test]
fn a_bad_message_late_in_a_large_input_is_named_by_its_place_in_the_whole() {
    let (_, jsons) = generated_messages(1_000);
    let last = jsons.len() - 1;
    let mut documents = jsons.clone();
    documents[last] = documents[last].replacen("\"traceId\":\"", "\"traceId\":\"zz", 1);
    let text = documents.join("\n");
    let e = otlp::decode(text.as_bytes(), Format::Json, "big.jsonl").expect_err("bad trace ID");
    assert!(
        e.to_string()
            .starts_with(&format!("big.jsonl: at document {last} ")),
        "{e}"
    );
}
