//! `traceql parse` end to end: classes, canonical forms, carets, exit status, bad input.

use std::process::{Command, Output};

fn traceql(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_traceql"))
        .args(args)
        .output()
        .expect("run traceql")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn valid_queries_print_their_canonical_form() {
    let o = traceql(&["parse", "{ .a = 1 || .b = 2 && .c = 3 }", "{} | rate()"]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(
        stdout(&o),
        "valid: { ((.a = 1) || (.b = 2)) && (.c = 3) }\nvalid: { true }|rate()\n"
    );
}

#[test]
fn errors_show_class_position_and_caret() {
    let o = traceql(&["parse", "{ .a == 1 }"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.starts_with("parse error at line 1, col 7: "), "{out}");
    assert!(out.contains("\n  { .a == 1 }\n        ^\n"), "{out:?}");

    let o = traceql(&["parse", "{ parent.x = 1 }"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).starts_with("unsupported at line 1, col 3"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("canonical: { parent.x = 1 }"));
}

#[test]
fn json_output_reports_each_query() {
    let o = traceql(&["parse", "--format", "json", "{ status = \"error\" }", "{ }"]);
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines[0]["class"], "validation error");
    assert_eq!(lines[0]["error"]["column"], 3);
    assert_eq!(lines[1]["class"], "valid");
    assert_eq!(lines[1]["canonical"], "{ true }");
}

#[test]
fn the_bundled_examples_are_all_valid() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/queries/examples.tql"
    );
    let o = traceql(&["parse", "--file", path]);
    assert!(o.status.success(), "{}", stdout(&o));
    assert!(stdout(&o).lines().count() >= 20);
}

#[test]
fn bad_input_gets_a_clear_error() {
    let o = traceql(&["parse"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no query given"));
    let o = traceql(&["parse", "--file", "/nonexistent/queries.tql"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/queries.tql"));
    let o = traceql(&["parse", ""]);
    assert_eq!(o.status.code(), Some(1));
    // A 1 MB query through standard input.
    let huge = format!("{{ .a = `{}` }}\n", "x".repeat(1 << 20));
    let mut child = Command::new(env!("CARGO_BIN_EXE_traceql"))
        .args(["parse", "--file", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run traceql");
    let mut stdin = child.stdin.take().expect("stdin");
    std::io::Write::write_all(&mut stdin, huge.as_bytes()).expect("write query");
    drop(stdin);
    let o = child.wait_with_output().expect("wait");
    assert!(o.status.success());
    assert!(stdout(&o).starts_with("valid: { .a = `xxx"));
}

#[cfg(unix)]
#[test]
fn invalid_utf8_arguments_are_refused() {
    use std::os::unix::ffi::OsStrExt;
    let o = Command::new(env!("CARGO_BIN_EXE_traceql"))
        .arg("parse")
        .arg(std::ffi::OsStr::from_bytes(b"{ .a = \"\xff\" }"))
        .output()
        .expect("run traceql");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not valid UTF-8"));
}
