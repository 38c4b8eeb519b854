//! Golden search responses: `testdata/search/<input>.golden.json` holds queries over
//! `testdata/otlp/<input>.json` with the exact expected response JSON (the input's traces
//! searched in memory; written as a block and searched there, the same traces). Run with
//! `TRACEQL_BLESS=1` to rewrite the expectations (then review the diff).

use std::path::PathBuf;

use serde_json::Value;
use traceql_engine::search::{SearchRequest, search, search_traces};
use traceql_storage::catalog::Catalog;
use traceql_storage::otlp;
use traceql_storage::writer::{WriteOptions, group_traces, write_block};

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golden_search_responses() {
    let bless = std::env::var("TRACEQL_BLESS").is_ok_and(|v| v == "1");
    let mut checked = 0;
    for entry in std::fs::read_dir(testdata().join("search")).expect("testdata/search") {
        let path = entry.expect("entry").path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".golden.json"))
        else {
            continue;
        };
        let spans = otlp::decode_file(&testdata().join("otlp").join(format!("{name}.json")))
            .expect("input");
        let mut cases: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        let catalog = Catalog::open(&format!("memory://golden-{name}")).expect("catalog");
        let traces = group_traces(spans.clone());
        write_block(&catalog, "t", traces, &WriteOptions::default(), vec![], 0)
            .await
            .expect("block");
        for case in &mut cases {
            let query = case["query"].as_str().expect("query").to_string();
            let mut request = SearchRequest::new(&query);
            if let Some(spss) = case.get("spss").and_then(Value::as_u64) {
                request.spss = spss as usize;
            }
            let response = search_traces(group_traces(spans.clone()), &request)
                .unwrap_or_else(|e| panic!("{query}: {e}"));
            let actual: Value = serde_json::from_str(&response.to_json()).expect("response json");
            if bless {
                case["expect"] = actual;
            } else {
                assert_eq!(
                    serde_json::to_string(&case["expect"]).expect("json"),
                    serde_json::to_string(&actual).expect("json"),
                    "{name}: {query}"
                );
            }
            // The block answers with the same traces, whichever path the query takes there.
            let stored = search(&catalog, "t", &request)
                .await
                .unwrap_or_else(|e| panic!("{query} over a block: {e}"));
            let stored: Value = serde_json::from_str(&stored.to_json()).expect("response json");
            assert_eq!(
                serde_json::to_string(&case["expect"]["traces"]).expect("json"),
                serde_json::to_string(&stored["traces"]).expect("json"),
                "{name}: {query} over a block"
            );
            checked += 1;
        }
        if bless {
            std::fs::write(
                &path,
                serde_json::to_string_pretty(&cases).expect("json") + "\n",
            )
            .expect("write");
        }
    }
    assert!(checked >= 10, "only {checked} golden cases");
}
