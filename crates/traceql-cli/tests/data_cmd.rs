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

/// `gen --out` writes OTLP files (protobuf and JSON lines) that ingest into the same traces
/// and spans as `gen --data` writes as blocks directly, and the same search answer.
#[test]
fn generated_otlp_files_ingest_into_what_gen_writes_directly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = |name: &str| dir.path().join(name).to_str().expect("utf-8").to_string();
    let common = ["--traces", "300", "--seed", "7", "--start", "1700000000"];
    let gen_to = |target: &[&str]| {
        let args: Vec<&str> = ["gen"]
            .iter()
            .chain(&common)
            .chain(target)
            .copied()
            .collect();
        let o = traceql(&args);
        assert!(o.status.success(), "{}", text(&o));
        text(&o)
    };
    let direct = gen_to(&["--data", &path("direct")]);
    assert!(direct.contains("generated 300 traces"), "{direct}");
    let spans = direct
        .split(", ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .expect("span count")
        .to_string();
    let query = r#"{ resource.service.name = "checkout" } | count() > 1"#;
    let search = |data: &str| {
        let o = traceql(&[
            "search", "--data", data, "--limit", "500", "--format", "json", query,
        ]);
        assert!(o.status.success(), "{}", text(&o));
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    let expected = search(&path("direct"));
    assert!(expected.contains("traceID"), "{expected}");
    for (file, format) in [("t.pb", "otlp-proto"), ("t.jsonl", "otlp-json")] {
        let written = gen_to(&["--format", format, "--out", &path(file)]);
        assert!(written.contains(&format!("{spans} spans")), "{written}");
        assert!(!dir.path().join(format!("{file}.partial")).exists());
        let data = path(&format!("from-{file}"));
        let o = traceql(&["ingest", "--data", &data, &path(file)]);
        assert!(o.status.success(), "{}", text(&o));
        assert!(
            text(&o).contains(&format!("300 traces, {spans} spans")),
            "{}",
            text(&o)
        );
        let found = search(&data);
        // Inspected bytes differ with the files' compression; the traces must not.
        let traces = |json: &str| {
            json.split("\"metrics\"")
                .next()
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(traces(&found), traces(&expected), "{format}");
    }
    // A file that cannot be written leaves nothing behind and names the file.
    let o = traceql(&["gen", "--traces", "5", "--out", "/nonexistent/dir/t.pb"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("/nonexistent/dir/t.pb"), "{}", text(&o));
    // An encoding without a file to write is a usage error, not silently ignored.
    let o = traceql(&["gen", "--data", &path("x"), "--format", "otlp-json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("--out"), "{}", text(&o));
    assert!(!dir.path().join("x").exists());
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

/// A data folder holding `testdata/otlp/every_field.json` as one block.
fn every_field_data() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let every_field = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/otlp/every_field.json"
    );
    let o = traceql(&[
        "ingest",
        "--data",
        dir.path().to_str().expect("utf-8"),
        every_field,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    dir
}

#[test]
fn search_prints_a_table_and_tempo_json() {
    let dir = every_field_data();
    let data = dir.path().to_str().expect("utf-8");
    let o = traceql(&[
        "search",
        "--data",
        data,
        "{ resource.service.name = `checkout` } >> { status = ok }",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("5b8efff798038103d269b633813fc60c") && out.contains("SELECT orders"),
        "{out}"
    );
    assert!(out.contains("1 trace(s)"), "{out}");
    let o = traceql(&[
        "search",
        "--data",
        data,
        "--format",
        "json",
        "{ name = `charge` }",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(json["traces"][0]["rootServiceName"], "checkout");
    assert_eq!(
        json["traces"][0]["spanSets"][0]["spans"][0]["name"],
        "charge"
    );
    assert_eq!(
        json["traces"][0]["serviceStats"]["payments"]["spanCount"],
        1
    );
    // A bad query shows the caret and exits 1.
    let o = traceql(&["search", "--data", data, "{ .a == 1 }"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("^"), "{}", text(&o));
    // Time ranges: RFC 3339 or unix seconds, both ends required.
    let o = traceql(&[
        "search",
        "--data",
        data,
        "--start",
        "2018-12-13T14:50:00Z",
        "--end",
        "1544712800",
        "{ }",
    ]);
    assert!(text(&o).contains("1 trace(s)"), "{}", text(&o));
    let o = traceql(&[
        "search",
        "--data",
        data,
        "--start",
        "1544712800",
        "--end",
        "1544712900",
        "{ }",
    ]);
    assert!(text(&o).contains("0 trace(s)"), "{}", text(&o));
}

#[test]
fn demo_generates_then_reuses_its_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = dir.path().join("demo");
    let demo = demo.to_str().expect("utf-8");
    let o = traceql(&["demo", "--dir", demo, "--spans", "3000"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("Generating the sample data set"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("A structural query"), "{}", text(&o));
    let o = traceql(&["demo", "--dir", demo, "--spans", "3000"]);
    assert!(text(&o).contains("Using the sample data"), "{}", text(&o));
}

#[test]
fn trace_shows_a_waterfall_or_tempo_json() {
    let dir = every_field_data();
    let data = dir.path().to_str().expect("utf-8");
    let o = traceql(&["trace", "--data", data, "5b8efff798038103d269b633813fc60c"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("POST /checkout (checkout)") && out.contains("  SELECT orders (checkout)"),
        "{out}"
    );
    assert!(out.contains("error"), "{out}");
    let o = traceql(&[
        "trace",
        "--data",
        data,
        "--format",
        "json",
        "5b8efff798038103d269b633813fc60c",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(
        json["trace"]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"],
        "7uGbfsPBsXQ="
    );
    let o = traceql(&["trace", "--data", data, "abc"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("not found"));
    let o = traceql(&["trace", "--data", data, "not-hex"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn metrics_prints_series_or_tempo_json() {
    let dir = every_field_data();
    let data = dir.path().to_str().expect("utf-8");
    let range = [
        "--start",
        "1544712600",
        "--end",
        "1544712720",
        "--step",
        "15s",
    ];
    // A query over its timeout stops with a message; a bad timeout is a usage error.
    let mut args = vec!["metrics", "--data", data, "--timeout", "1ns"];
    args.extend(range);
    args.push("{ } | count_over_time()");
    let o = traceql(&args);
    assert!(!o.status.success());
    assert!(text(&o).contains("timed out after 1ns"), "{}", text(&o));
    let o = traceql(&["search", "--data", data, "--timeout", "soon", "{ }"]);
    assert!(
        text(&o).contains("invalid timeout \"soon\""),
        "{}",
        text(&o)
    );
    let o = traceql(&["search", "--data", data, "--timeout", "1ns", "{ }"]);
    assert!(text(&o).contains("timed out after 1ns"), "{}", text(&o));
    let mut args = vec!["metrics", "--data", data, "--timeout", "10m"];
    args.extend(range);
    args.push("{ } | count_over_time() by (resource.service.name)");
    let o = traceql(&args);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("resource.service.name=checkout")
            && out.contains("resource.service.name=payments"),
        "{out}"
    );
    assert!(out.contains("2 series"), "{out}");
    let mut args = vec!["metrics", "--data", data, "--format", "json", "--instant"];
    args.extend(range);
    args.push("{ } | count_over_time()");
    let o = traceql(&args);
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(json["series"][0]["value"], 3);
    // Range JSON carries exemplars unless `--exemplars 0`.
    for (limit, expected) in [("100", 1), ("0", 0)] {
        let mut args = vec!["metrics", "--data", data, "--format", "json"];
        args.extend(range);
        args.extend(["--exemplars", limit, "{ } | count_over_time()"]);
        let o = traceql(&args);
        let json: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        let exemplars = json["series"][0]
            .get("exemplars")
            .and_then(|e| e.as_array())
            .map_or(0, Vec::len);
        assert_eq!(exemplars, expected, "--exemplars {limit}: {json}");
    }
    let mut args = vec!["metrics", "--data", data];
    args.extend(range);
    args.push("{ } | rate() +");
    assert_eq!(traceql(&args).status.code(), Some(1));
}

#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    use std::io::Read;
    use std::process::Stdio;

    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().to_str().expect("utf-8");
    let o = traceql(&["generate", "--data", data, "--spans", "5000"]);
    assert!(o.status.success(), "{}", text(&o));
    // Far more JSON than a pipe buffers (64 KiB), so the writes after the reader closes fail.
    let mut child = Command::new(env!("CARGO_BIN_EXE_traceql"))
        .args([
            "search", "--data", data, "--limit", "1000", "--format", "json",
        ])
        .arg("{ }")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run traceql");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).expect("some output");
    drop(stdout);
    let o = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{:?}: {stderr}", o.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn timing_prints_the_query_time_and_peak_memory_to_standard_error() {
    let dir = every_field_data();
    let data = dir.path().to_str().expect("utf-8");
    let search = traceql(&[
        "search", "--data", data, "--format", "json", "--timing", "{ }",
    ]);
    let metrics = traceql(&[
        "metrics",
        "--data",
        data,
        "--start",
        "0",
        "--end",
        "3600",
        "--timing",
        "{ } | rate()",
    ]);
    for o in [search, metrics] {
        assert!(o.status.success(), "{}", text(&o));
        let stderr = String::from_utf8_lossy(&o.stderr);
        let figure = |prefix: &str, unit: &str| -> Option<f64> {
            let line = stderr.lines().find(|l| l.starts_with(prefix))?;
            line.strip_prefix(prefix)?.strip_suffix(unit)?.parse().ok()
        };
        let ms =
            figure("query time: ", " ms").unwrap_or_else(|| panic!("no query time in {stderr:?}"));
        assert!(ms > 0.0, "{stderr}");
        if cfg!(target_os = "linux") {
            let mib = figure("peak memory: ", " MiB")
                .unwrap_or_else(|| panic!("no peak memory in {stderr:?}"));
            assert!(mib > 1.0, "{stderr}");
        }
        assert!(!String::from_utf8_lossy(&o.stdout).contains("query time"));
    }
}

#[test]
fn explain_describes_the_plan_instead_of_the_results() {
    let dir = every_field_data();
    let data = dir.path().to_str().expect("utf-8");
    let o = traceql(&["search", "--data", data, "--explain", "{ } ~ { }"]);
    assert!(o.status.success(), "{}", text(&o));
    let plan = String::from_utf8_lossy(&o.stdout);
    for part in [
        "path: columnar",
        "row groups:",
        "TraceCandidatesExec",
        "output_rows=",
    ] {
        assert!(plan.contains(part), "no {part} in {plan}");
    }
    assert!(!plan.contains("\"traces\""), "{plan}");
    // A negated condition over an event and a span field runs on the reference evaluator,
    // and says so.
    let o = traceql(&[
        "search",
        "--data",
        data,
        "--explain",
        r#"{ !(event:name = "no-such-event" && kind = server) }"#,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("path: reference"));
    let o = traceql(&[
        "metrics",
        "--data",
        data,
        "--start",
        "0",
        "--end",
        "3600",
        "--explain",
        "{ } | rate() by (resource.service.name)",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let plan = String::from_utf8_lossy(&o.stdout);
    assert!(plan.contains("path: columnar"), "{plan}");
    // Query errors still name their place.
    let o = traceql(&["search", "--data", data, "--explain", "{ .a = }"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("line 1, col 8"), "{}", text(&o));
}
