//! Bad input of every kind gets a clear error naming the file, and never a visible partial block.

use std::path::PathBuf;

use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use traceql_storage::StorageError;
use traceql_storage::catalog::Catalog;
use traceql_storage::meta::BlockMeta;
use traceql_storage::otlp::{self, Format, proto};
use traceql_storage::read::read_block;
use traceql_storage::writer::{WriteOptions, group_traces, write_block};

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/otlp")
        .join(name)
}

fn catalog() -> Catalog {
    Catalog::open(&format!("memory://bad-input-{}", uuid::Uuid::new_v4())).expect("memory catalog")
}

/// A block of tenant `t` holding `every_field.json`.
async fn every_field_block(catalog: &Catalog) -> BlockMeta {
    let spans = otlp::decode_file(&testdata("every_field.json")).expect("decode");
    write_block(
        catalog,
        "t",
        group_traces(spans),
        &WriteOptions::default(),
        vec![],
        0,
    )
    .await
    .expect("write")
}

/// The bytes of the data file of the block `meta` describes.
async fn data_file(catalog: &Catalog, meta: &BlockMeta) -> bytes::Bytes {
    catalog
        .store()
        .get(&catalog.data_path(&meta.tenant, &meta.block_id))
        .await
        .expect("get")
        .bytes()
        .await
        .expect("bytes")
}

#[test]
fn truncated_json_names_the_file_and_position() {
    let text = std::fs::read_to_string(testdata("every_field.json")).expect("read");
    let cut = &text[..text.len() / 2];
    let e = otlp::decode(cut.as_bytes(), Format::Json, "traces.json").expect_err("truncated");
    let message = e.to_string();
    assert!(message.starts_with("traces.json: "), "{message}");
    assert!(
        message.contains("line") && message.contains("column"),
        "{message}"
    );
}

#[test]
fn malformed_json_structures_say_where() {
    let cases = [
        (r#"{"resourceSpans": 3}"#, "resourceSpans"),
        (r#"{"nothing": []}"#, "resourceSpans"),
        (
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"abc","spanId":"0102030405060708"}]}]}]}"#,
            "spans[0]",
        ),
        (
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"01"}]}]}]}"#,
            "spanId",
        ),
        (
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","startTimeUnixNano":"soon"}]}]}]}"#,
            "startTimeUnixNano",
        ),
        (
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","kind":"SPAN_KIND_WEIRD"}]}]}]}"#,
            "kind",
        ),
    ];
    for (text, expected) in cases {
        let e = otlp::decode(text.as_bytes(), Format::Json, "f.json").expect_err(text);
        assert!(e.to_string().contains(expected), "{text}: {e}");
    }
}

#[test]
fn bad_protobuf_names_the_file() {
    let spans = otlp::decode_file(&testdata("every_field.json")).expect("decode");
    let bytes = proto::encode(&spans);
    let e = otlp::decode(&bytes[..bytes.len() - 7], Format::Protobuf, "batch.pb")
        .expect_err("truncated");
    assert!(
        e.to_string().starts_with("batch.pb: invalid OTLP protobuf"),
        "{e}"
    );
    let mut wrong = spans.clone();
    wrong[1].span_id = [0; 8];
    let mut bytes = proto::encode(&wrong);
    // Corrupt the length of the second span's ID field in place: find its 8 zero bytes.
    let at = bytes
        .windows(10)
        .position(|w| w[0] == 0x12 && w[1] == 8 && w[2..].iter().all(|b| *b == 0))
        .expect("span id");
    bytes[at + 1] = 7;
    bytes.remove(at + 2);
    let e = otlp::decode(&bytes, Format::Protobuf, "batch.pb").expect_err("bad span ID");
    let message = e.to_string();
    assert!(
        message.contains("span ID must be 8 bytes") || message.contains("invalid OTLP protobuf"),
        "{message}"
    );
}

#[test]
fn missing_file_names_it() {
    let e = otlp::decode_file(&testdata("does-not-exist.json")).expect_err("missing");
    assert!(matches!(e, StorageError::Io { .. }));
    assert!(e.to_string().contains("does-not-exist.json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folders_that_are_not_blocks_are_ignored_or_named() {
    let catalog = catalog();
    let store = catalog.store();
    // A folder with files but no meta.json is not a block.
    store
        .put(
            &Path::from("t/not-a-block/notes.txt"),
            PutPayload::from_static(b"hi"),
        )
        .await
        .expect("put");
    assert!(catalog.list_blocks("t").await.expect("list").is_empty());
    // A meta.json that is not ours is a clear error naming it.
    store
        .put(
            &Path::from("t/broken/meta.json"),
            PutPayload::from_static(b"{\"x\": 1}"),
        )
        .await
        .expect("put");
    let e = catalog.list_blocks("t").await.expect_err("bad meta");
    assert!(e.to_string().contains("t/broken/meta.json"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_data_file_is_named() {
    let catalog = catalog();
    let meta = every_field_block(&catalog).await;
    let path = catalog.data_path("t", &meta.block_id);
    catalog
        .store()
        .put(
            &path,
            PutPayload::from_static(b"PAR1 this is not parquet PAR1"),
        )
        .await
        .expect("put");
    let e = read_block(&catalog, &meta).await.expect_err("corrupt");
    assert!(e.to_string().contains("data.parquet"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_before_meta_json_leaves_no_block() {
    let catalog = catalog();
    // A writer that died mid-upload: half a data file, no meta.json.
    let meta = every_field_block(&catalog).await;
    let data = data_file(&catalog, &meta).await;
    catalog
        .store()
        .put(
            &Path::from("t/crashed/data.parquet"),
            PutPayload::from(data.slice(..data.len() / 2)),
        )
        .await
        .expect("put");
    // A writer that died after the data file but before meta.json.
    catalog
        .store()
        .put(
            &Path::from("t/crashed-late/data.parquet"),
            PutPayload::from(data),
        )
        .await
        .expect("put");
    let blocks = catalog.list_blocks("t").await.expect("list");
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].block_id, meta.block_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_urls_are_refused() {
    for url in ["ftp://host/x", "s3://", "file://"] {
        let e = Catalog::open(url).expect_err(url);
        assert!(matches!(e, StorageError::InvalidUrl { .. }), "{url}: {e}");
    }
    let empty = catalog();
    let e = write_block(&empty, "t", vec![], &WriteOptions::default(), vec![], 0)
        .await
        .expect_err("no spans");
    assert!(e.to_string().contains("at least one span"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_id_column_of_the_wrong_type_is_an_error_not_a_panic() {
    use arrow::array::{Array, RecordBatch};
    use arrow::compute::cast;
    use arrow::datatypes::{DataType, Field, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use std::sync::Arc;
    use traceql_storage::read::find_trace;

    let catalog = catalog();
    let meta = every_field_block(&catalog).await;
    let trace_id: [u8; 16] = hex::decode(&meta.min_trace_id)
        .expect("hex")
        .try_into()
        .expect("16 bytes");
    // The same block with its trace IDs stored as variable-length binary.
    let data = data_file(&catalog, &meta).await;
    let batches: Vec<RecordBatch> = ParquetRecordBatchReaderBuilder::try_new(data)
        .expect("parquet")
        .build()
        .expect("reader")
        .collect::<Result<_, _>>()
        .expect("batches");
    let schema = batches[0].schema();
    let id = schema.index_of("trace_id").expect("trace_id column");
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields[id] = Field::new("trace_id", DataType::Binary, false);
    let altered = Arc::new(Schema::new(fields));
    let mut bytes = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut bytes, Arc::clone(&altered), None).expect("writer");
    for batch in &batches {
        let mut columns: Vec<Arc<dyn Array>> = batch.columns().to_vec();
        columns[id] = cast(&columns[id], &DataType::Binary).expect("cast");
        let batch = RecordBatch::try_new(Arc::clone(&altered), columns).expect("batch");
        writer.write(&batch).expect("write");
    }
    writer.close().expect("close");
    catalog
        .store()
        .put(
            &catalog.data_path("t", &meta.block_id),
            PutPayload::from(bytes),
        )
        .await
        .expect("put");

    let e = find_trace(&catalog, &meta, &trace_id)
        .await
        .expect_err("wrong trace_id type");
    assert!(e.to_string().contains("data.parquet"), "{e}");
    assert!(e.to_string().contains("fixed-size binary"), "{e}");
}
