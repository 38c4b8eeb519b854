//! `traceql generate`, `ingest`, `blocks` and `compact` end to end on a temporary folder.

use std::process::{Command, Output};

fn traceql(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_traceql"))
        .args(args)
        .output()
        .expect("run traceql")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn generate_ingest_list_and_compact() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().to_str().expect("utf-8");
    let o = traceql(&[
        "generate",
        "--data",
        data,
        "--spans",
        "5000",
        "--block-spans",
        "2500",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("generated"), "{}", text(&o));
    let every_field = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/otlp/every_field.json"
    );
    let o = traceql(&["ingest", "--data", data, every_field]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("1 traces, 3 spans"), "{}", text(&o));
    let o = traceql(&["blocks", "--data", data]);
    assert!(text(&o).contains("3 block(s)"), "{}", text(&o));
    let o = traceql(&["compact", "--data", data]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("from 3 blocks"), "{}", text(&o));
    let o = traceql(&["blocks", "--data", data]);
    assert!(text(&o).contains("1 block(s)"), "{}", text(&o));
}

#[test]
fn bad_inputs_are_reported_with_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().to_str().expect("utf-8");
    let o = traceql(&["ingest", "--data", data, "/nonexistent/traces.pb"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("/nonexistent/traces.pb"), "{}", text(&o));
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"resourceSpans\": [").expect("write");
    let o = traceql(&["ingest", "--data", data, bad.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("bad.json"), "{}", text(&o));
    let o = traceql(&["blocks", "--data", "ftp://nowhere"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("unknown scheme"), "{}", text(&o));
}
