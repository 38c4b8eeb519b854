//! Tag names and values over a block written from the OTLP example file.

use crate::common;

use std::path::PathBuf;

use traceql_engine::tags::{tag_names, tag_values};
use traceql_storage::catalog::Catalog;
use traceql_storage::ingest::ingest_files;
use traceql_storage::writer::WriteOptions;

async fn catalog() -> Catalog {
    let catalog =
        Catalog::open(&format!("memory://tags-{}", uuid::Uuid::new_v4())).expect("catalog");
    let file =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/otlp/every_field.json");
    ingest_files(&catalog, "t", &[file], &WriteOptions::default())
        .await
        .expect("ingest");
    catalog
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_names_by_scope() {
    let catalog = catalog().await;
    let all = tag_names(&catalog, "t", None, None).await.expect("tags");
    let json = serde_json::to_string(&all).expect("json");
    assert!(json.starts_with(r#"{"scopes":[{"name":"resource","tags":["deployment.environment","host.cpus","service.name"]},{"name":"span","tags":["#), "{json}");
    let names: Vec<&str> = all.scopes.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "resource",
            "span",
            "intrinsic",
            "event",
            "link",
            "instrumentation"
        ]
    );
    let span = tag_names(&catalog, "t", Some("span"), Some(2))
        .await
        .expect("tags");
    assert_eq!(span.scopes.len(), 1);
    assert_eq!(span.scopes[0].tags, ["db.system", "empty"]);
    assert!(tag_names(&catalog, "t", Some("bogus"), None).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_values_typed_and_filtered() {
    let catalog = catalog().await;
    let services = tag_values(&catalog, "t", "resource.service.name", None, None)
        .await
        .expect("values");
    assert_eq!(
        serde_json::to_string(&services).expect("json"),
        r#"{"tagValues":[{"type":"string","value":"checkout"},{"type":"string","value":"payments"}]}"#
    );
    let filtered = tag_values(
        &catalog,
        "t",
        ".service.name",
        Some("{ name = `charge` }"),
        None,
    )
    .await
    .expect("values");
    assert_eq!(filtered.tag_values.len(), 1);
    assert_eq!(filtered.tag_values[0].value, "payments");
    // An unparsable query lists every value.
    let unfiltered = tag_values(
        &catalog,
        "t",
        "resource.service.name",
        Some("{ .a = "),
        None,
    )
    .await
    .expect("values");
    assert_eq!(unfiltered.tag_values.len(), 2);
    let codes = tag_values(&catalog, "t", "span.http.response.status_code", None, None)
        .await
        .expect("values");
    assert_eq!(codes.tag_values[0].value_type, "int");
    let tags = tag_values(&catalog, "t", "span.tags", None, None)
        .await
        .expect("values");
    assert_eq!(
        tags.tag_values
            .iter()
            .map(|v| v.value.as_str())
            .collect::<Vec<_>>(),
        ["a", "b"],
        "array elements"
    );
    let status = tag_values(&catalog, "t", "span:status", None, None)
        .await
        .expect("values");
    assert_eq!(status.tag_values.len(), 3);
    assert!(
        tag_values(&catalog, "t", "duration", None, None)
            .await
            .expect("values")
            .tag_values
            .is_empty()
    );
    let events = tag_values(&catalog, "t", "event:name", None, None)
        .await
        .expect("values");
    assert_eq!(events.tag_values[0].value, "exception");
    assert!(
        tag_values(&catalog, "t", "not a tag", None, None)
            .await
            .is_err()
    );
}

/// Tag values read by one aggregation over the block's columns equal those the reference
/// evaluator collects: `&& name = name` (always true, but a field-to-field comparison the
/// columnar path does not lower) sends the same question down the reference path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn columnar_tag_values_equal_the_reference() {
    let catalog = common::generated_catalog(120).await;
    let tags = [
        "resource.service.name",
        "span.http.route",
        "span.http.response.status_code",
        ".db.system",
        "name",
        "rootServiceName",
        "span.app.fraud.score",
        "span.app.feature.new_checkout",
        "resource.not.there",
    ];
    let filters = [
        ("{ name = name }", None),
        (
            "{ status = error && name = name }",
            Some("{ status = error }"),
        ),
        (
            "{ kind = server && name = name }",
            Some("{ kind = server }"),
        ),
    ];
    for tag in tags {
        for (reference, columnar) in filters {
            let expected = tag_values(&catalog, "t", tag, Some(reference), None)
                .await
                .expect("reference values");
            let found = tag_values(&catalog, "t", tag, columnar, None)
                .await
                .expect("columnar values");
            assert_eq!(found, expected, "{tag} where {columnar:?}");
            if tag != "resource.not.there" && columnar.is_none() {
                assert!(!found.tag_values.is_empty(), "{tag} has values");
            }
        }
    }
}
