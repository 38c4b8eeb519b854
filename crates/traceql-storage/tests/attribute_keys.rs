//! `keys::attribute_keys` (footer, meta and key columns only) against the keys of every
//! decoded span.

use std::path::PathBuf;

use traceql_storage::catalog::Catalog;
use traceql_storage::generator::{Generator, GeneratorConfig};
use traceql_storage::ingest::ingest_files;
use traceql_storage::keys::{AttributeKeys, attribute_keys};
use traceql_storage::meta::BlockMeta;
use traceql_storage::read::read_block;
use traceql_storage::writer::{WriteOptions, write_block};

/// The keys of every span of the block, decoded whole.
async fn decoded_keys(catalog: &Catalog, meta: &BlockMeta) -> AttributeKeys {
    let mut keys = AttributeKeys::default();
    let names = |kvs: &[traceql_storage::model::KeyValue]| {
        kvs.iter().map(|kv| kv.key.clone()).collect::<Vec<_>>()
    };
    for trace in read_block(catalog, meta).await.expect("read") {
        for span in &trace.spans {
            keys.resource.extend(names(&span.resource.attributes));
            keys.span.extend(names(&span.attributes));
            keys.instrumentation.extend(names(&span.scope.attributes));
            for e in &span.events {
                keys.event.extend(names(&e.attributes));
            }
            for l in &span.links {
                keys.link.extend(names(&l.attributes));
            }
        }
    }
    keys
}

/// Checks the keys of every block of `catalog`, as written and as if `meta.json` listed no
/// generic keys (blocks written before it did).
async fn check_every_block(catalog: &Catalog, options_note: &str) {
    let blocks = catalog.list_blocks("t").await.expect("blocks");
    assert!(!blocks.is_empty());
    for meta in blocks {
        let expected = decoded_keys(catalog, &meta).await;
        assert!(!expected.span.is_empty() && !expected.resource.is_empty());
        let found = attribute_keys(catalog, &meta).await.expect("keys");
        assert_eq!(found, expected, "{options_note}");
        let mut older = meta.clone();
        older.generic_keys = None;
        let found = attribute_keys(catalog, &older).await.expect("keys");
        assert_eq!(found, expected, "{options_note}, no generic keys in meta");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scope_of_the_otlp_example() {
    let catalog = Catalog::open("memory://keys-example").expect("catalog");
    let file =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/otlp/every_field.json");
    ingest_files(&catalog, "t", &[file], &WriteOptions::default())
        .await
        .expect("ingest");
    check_every_block(&catalog, "example").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_blocks_with_and_without_dedicated_columns() {
    for (note, dedicated) in [("dedicated columns", 24), ("generic lists only", 0)] {
        let catalog = Catalog::open(&format!("memory://keys-{dedicated}")).expect("catalog");
        let options = WriteOptions {
            dedicated_per_scope: dedicated,
            row_group_spans: 500,
            ..WriteOptions::default()
        };
        let traces = Generator::new(GeneratorConfig::default()).traces(0..150);
        write_block(&catalog, "t", traces, &options, vec![], 0)
            .await
            .expect("block");
        let expected = {
            let blocks = catalog.list_blocks("t").await.expect("blocks");
            decoded_keys(&catalog, &blocks[0]).await
        };
        assert!(
            !expected.event.is_empty() && !expected.link.is_empty(),
            "{note}"
        );
        check_every_block(&catalog, note).await;
    }
}

/// A block's meta lists, per scope, exactly the generic keys some of whose values are arrays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_meta_lists_the_generic_keys_with_array_values() {
    use std::collections::BTreeSet;
    use traceql_storage::model::Value;

    let catalog = Catalog::open("memory://keys-arrays").expect("catalog");
    let options = WriteOptions {
        dedicated_per_scope: 0,
        ..WriteOptions::default()
    };
    let traces = Generator::new(GeneratorConfig::default()).traces(0..150);
    let meta = write_block(&catalog, "t", traces.clone(), &options, vec![], 0)
        .await
        .expect("block");
    let arrays = |kvs: &[traceql_storage::model::KeyValue]| -> BTreeSet<String> {
        kvs.iter()
            .filter(|kv| matches!(kv.value, Value::Array(_)))
            .map(|kv| kv.key.clone())
            .collect()
    };
    let spans = traces.iter().flat_map(|t| &t.spans);
    let span: BTreeSet<String> = spans.clone().flat_map(|s| arrays(&s.attributes)).collect();
    let resource: BTreeSet<String> = spans.flat_map(|s| arrays(&s.resource.attributes)).collect();
    assert!(!span.is_empty(), "the generator writes array attributes");
    let keys = meta.generic_keys.expect("generic keys");
    let listed = |keys: Option<Vec<String>>| -> BTreeSet<String> {
        keys.expect("recorded").into_iter().collect()
    };
    assert_eq!(listed(keys.span_arrays), span);
    assert_eq!(listed(keys.resource_arrays), resource);
}
