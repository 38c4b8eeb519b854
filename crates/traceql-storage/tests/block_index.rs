//! `BlockIndex`: what it knows of a data file matches what its store says.

use object_store::ObjectStoreExt;
use traceql_storage::catalog::Catalog;
use traceql_storage::generator::{Generator, GeneratorConfig};
use traceql_storage::meta::BlockMeta;
use traceql_storage::model::Trace;
use traceql_storage::read::BlockIndex;
use traceql_storage::writer::{WriteOptions, write_block};

/// A block of tenant `t` in `catalog` holding the first `traces` generated traces, written
/// with `options`; and those traces.
async fn generated_block(
    catalog: &Catalog,
    traces: u64,
    options: &WriteOptions,
) -> (BlockMeta, Vec<Trace>) {
    let traces = Generator::new(GeneratorConfig::default()).traces(0..traces);
    let meta = write_block(catalog, "t", traces.clone(), options, vec![], 0)
        .await
        .expect("block");
    (meta, traces)
}

/// The object a block index describes (taken from its footer read, not a separate request) is
/// the one the store lists: same location, size and modification time, which is what
/// DataFusion's footer cache checks before it reuses a footer handed to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_object_is_the_one_the_store_describes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let local = dir.path().to_str().expect("utf-8").to_string();
    for url in [local.as_str(), "memory://block-index-object"] {
        let catalog = Catalog::open(url).expect("catalog");
        let (meta, _) = generated_block(&catalog, 30, &WriteOptions::default()).await;
        let index = BlockIndex::open(&catalog, &meta).await.expect("index");
        let path = catalog.data_path(&meta.tenant, &meta.block_id);
        let head = catalog.store().head(&path).await.expect("head");
        let object = index.object();
        assert_eq!(object.location, head.location, "{url}");
        assert_eq!(object.size, head.size, "{url}");
        assert_eq!(object.last_modified, head.last_modified, "{url}");
    }
}

/// The span name, the root service and span name and every dedicated string column carry a
/// bloom filter per row group: it admits each value the row group holds and refuses (nearly
/// always) one it does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn string_columns_have_bloom_filters_per_row_group() {
    use std::collections::BTreeSet;
    use traceql_storage::schema::col;

    let catalog = Catalog::open("memory://block-index-blooms").expect("catalog");
    let options = WriteOptions {
        row_group_spans: 500,
        ..WriteOptions::default()
    };
    let (meta, traces) = generated_block(&catalog, 200, &options).await;
    let mut index = BlockIndex::open(&catalog, &meta).await.expect("index");
    let groups: Vec<usize> = (0..index.row_groups().expect("row groups").len()).collect();
    assert!(groups.len() > 1, "{} row groups", groups.len());
    let columns = index.parquet_metadata().file_metadata().schema_descr_ptr();
    let leaf = |name: &str| {
        columns
            .columns()
            .iter()
            .position(|c| c.name() == name)
            .unwrap_or_else(|| panic!("no {name} column"))
    };
    let names: BTreeSet<&str> = traces
        .iter()
        .flat_map(|t| &t.spans)
        .map(|s| s.name.as_str())
        .collect();
    let roots = [col::TRACE_ROOT_SERVICE, col::TRACE_ROOT_NAME];
    for column in [col::NAME, "resource.service.name"]
        .into_iter()
        .chain(roots)
    {
        let filters = index
            .bloom_filters(leaf(column), &groups)
            .await
            .expect("filters");
        assert_eq!(filters.len(), groups.len());
        for filter in &filters {
            let filter = filter.unwrap_or_else(|| panic!("no bloom filter on {column}"));
            assert!(!filter.check(&"no-such-value-6c2408325a45"), "{column}");
        }
    }
    // Every name is admitted by the filter of the row group it occurs in, at least one.
    let filters = index
        .bloom_filters(leaf(col::NAME), &groups)
        .await
        .expect("filters");
    for name in names {
        assert!(
            filters.iter().flatten().any(|f| f.check(&name)),
            "{name} refused by every row group"
        );
    }
}

/// A footer read through a catalog is not read again through it (or its clones): with the data
/// file replaced by garbage afterwards, the catalog still opens the block from the footer it
/// kept, while a new catalog over the same store reads the garbage and names the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalog_reads_each_footer_once() {
    use object_store::PutPayload;

    let url = format!("memory://block-index-footers-{}", uuid::Uuid::new_v4());
    let catalog = Catalog::open(&url).expect("catalog");
    let (meta, _) = generated_block(&catalog, 30, &WriteOptions::default()).await;
    let first = BlockIndex::open(&catalog, &meta).await.expect("first open");
    let path = catalog.data_path(&meta.tenant, &meta.block_id);
    catalog
        .store()
        .put(&path, PutPayload::from_static(b"not parquet at all"))
        .await
        .expect("put");
    let again = BlockIndex::open(&catalog.clone(), &meta)
        .await
        .expect("footer kept");
    assert_eq!(again.object(), first.object());
    assert_eq!(again.row_groups().ok(), first.row_groups().ok());
    let fresh = Catalog::open(&url).expect("same store, new catalog");
    let error = BlockIndex::open(&fresh, &meta)
        .await
        .err()
        .expect("the garbage is read");
    assert!(error.to_string().contains("data.parquet"), "{error}");
}

/// A trace's service stats are stored once, on its first row (other rows hold ""), and count
/// the spans and errors of each of its services.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_stats_are_stored_on_each_traces_first_row() {
    use std::collections::BTreeMap;

    use arrow::array::{AsArray, FixedSizeBinaryArray};
    use futures::TryStreamExt;
    use parquet::arrow::ProjectionMask;
    use traceql_storage::model::StatusCode;
    use traceql_storage::schema::col;

    let catalog = Catalog::open("memory://block-index-service-stats").expect("catalog");
    let options = WriteOptions {
        row_group_spans: 300,
        ..WriteOptions::default()
    };
    let (meta, traces) = generated_block(&catalog, 60, &options).await;
    let index = BlockIndex::open(&catalog, &meta).await.expect("index");
    let builder = index.builder();
    let wanted = [col::TRACE_ID, col::TRACE_SERVICE_STATS].map(|c| {
        builder
            .schema()
            .index_of(c)
            .unwrap_or_else(|_| panic!("no {c} column"))
    });
    let mask = ProjectionMask::roots(builder.parquet_schema(), wanted);
    let batches: Vec<_> = builder
        .with_projection(mask)
        .build()
        .expect("stream")
        .try_collect()
        .await
        .expect("batches");

    type Stats = BTreeMap<String, (u32, u32)>;
    let mut expected: BTreeMap<Vec<u8>, Stats> = BTreeMap::new();
    for trace in &traces {
        let stats = expected.entry(trace.trace_id.to_vec()).or_default();
        for span in &trace.spans {
            let entry = stats
                .entry(span.resource.service_name().to_string())
                .or_default();
            entry.0 += 1;
            entry.1 += u32::from(span.status_code == StatusCode::Error);
        }
    }
    let mut stored: BTreeMap<Vec<u8>, Stats> = BTreeMap::new();
    let mut previous: Option<Vec<u8>> = None;
    for batch in &batches {
        let ids: &FixedSizeBinaryArray = batch.column(0).as_fixed_size_binary();
        let stats = batch.column(1).as_string::<i32>();
        for row in 0..batch.num_rows() {
            let id = ids.value(row).to_vec();
            if previous.as_ref() == Some(&id) {
                assert_eq!(stats.value(row), "", "a later row of a trace holds stats");
                continue;
            }
            let list: Vec<(String, u32, u32)> =
                serde_json::from_str(stats.value(row)).expect("stats JSON");
            let map = list.into_iter().map(|(s, n, e)| (s, (n, e))).collect();
            assert!(stored.insert(id.clone(), map).is_none(), "trace rows apart");
            previous = Some(id);
        }
    }
    assert_eq!(stored, expected);
}

/// Columns no scan prunes by (the nested attribute, event and link lists, the trace's service
/// statistics) keep no statistics in the footer; the columns scans prune by keep theirs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_columns_scans_prune_by_keep_statistics() {
    use traceql_storage::schema::col;

    let catalog = Catalog::open("memory://block-index-statistics").expect("catalog");
    let (meta, _) = generated_block(&catalog, 30, &WriteOptions::default()).await;
    let index = BlockIndex::open(&catalog, &meta).await.expect("index");
    let unpruned = [
        col::SPAN_ATTRS,
        col::RESOURCE_ATTRS,
        col::SCOPE_ATTRS,
        col::EVENTS,
        col::LINKS,
        col::TRACE_SERVICE_STATS,
    ];
    let (mut without, mut with) = (0, Vec::new());
    for chunk in index.parquet_metadata().row_group(0).columns() {
        let path = chunk.column_path().parts();
        match unpruned.contains(&path[0].as_str()) {
            true => {
                assert!(chunk.statistics().is_none(), "{path:?} has statistics");
                without += 1;
            }
            false if chunk.statistics().is_some() => with.push(path[0].clone()),
            false => {}
        }
    }
    // Every leaf of the lists, not only their first.
    assert!(without > 5 * 10, "{without} columns without statistics");
    for column in [
        col::NAME,
        col::TRACE_ID,
        col::START_TIME,
        col::TRACE_ROOT_SERVICE,
    ] {
        assert!(
            with.iter().any(|c| c == column),
            "{column} lacks statistics"
        );
    }
}

/// The footer an index hands to other readers tells them to read the string columns with
/// few recorded values as dictionaries, and no other column; readers built by the index
/// itself still read every string column as plain strings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn few_valued_strings_are_hinted_as_dictionaries_for_other_readers_only() {
    use arrow::datatypes::DataType;
    use futures::TryStreamExt;
    use parquet::arrow::parquet_to_arrow_schema;
    use traceql_storage::column_values::ValueSet;

    let catalog = Catalog::open("memory://dictionary-hint").expect("catalog");
    let (meta, _) = generated_block(&catalog, 200, &WriteOptions::default()).await;
    let index = BlockIndex::open(&catalog, &meta).await.expect("index");
    let file = index.parquet_metadata().file_metadata();
    let hinted = parquet_to_arrow_schema(file.schema_descr(), file.key_value_metadata())
        .expect("hinted schema");
    assert_eq!(&hinted, index.scan_schema());
    let recorded = meta.column_values.as_ref().expect("recorded values");
    let mut dictionaries = 0;
    for field in index.schema().fields() {
        let few = matches!(recorded.get(field.name()), Some(ValueSet::Strings(v)) if !v.is_empty());
        let read_as = hinted
            .field_with_name(field.name())
            .expect("field")
            .data_type();
        match (field.data_type(), few) {
            (DataType::Utf8, true) => {
                dictionaries += 1;
                assert!(
                    matches!(read_as, DataType::Dictionary(..)),
                    "{}",
                    field.name()
                );
            }
            (plain, _) => assert_eq!(read_as, plain, "{}", field.name()),
        }
    }
    assert!(
        dictionaries >= 3,
        "service name, span name, and more: {dictionaries}"
    );
    let batches: Vec<_> = index
        .builder()
        .build()
        .expect("reader")
        .try_collect()
        .await
        .expect("batches");
    let service = batches[0]
        .column_by_name("resource.service.name")
        .expect("service column");
    assert_eq!(service.data_type(), &DataType::Utf8);
}
