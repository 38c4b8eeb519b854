//! The shell: queries piped through standard input, and an interactive session in a
//! pseudo-terminal.

use std::io::Write;
use std::process::{Command, Stdio};

fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let every_field = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/otlp/every_field.json"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_traceql"))
        .args([
            "ingest",
            "--data",
            dir.path().to_str().expect("utf-8"),
            every_field,
        ])
        .output()
        .expect("ingest");
    assert!(o.status.success());
    dir
}

#[test]
fn queries_piped_through_stdin_run_in_order() {
    let dir = data_dir();
    let mut child = Command::new(env!("CARGO_BIN_EXE_traceql"))
        .args(["--data", dir.path().to_str().expect("utf-8")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run traceql");
    let script = concat!(
        ".limit 5\n",
        "{ name = `charge` }; .format json\n",
        "{ resource.service.name = `checkout` } >>\n",
        "  { status = ok }\n",
        ".format table\n",
        "{ } | count_over_time() by (resource.service.name)\n",
        "{ .a == 1 }\n",
        ".quit\n",
        "{ never = reached }\n",
    );
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write");
    let o = child.wait_with_output().expect("wait");
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(1),
        "a failing query makes the exit status 1: {err}"
    );
    assert!(
        out.contains("charge") && out.contains("1 trace(s)"),
        "{out}"
    );
    assert!(
        out.contains(r#"{"traces":[{"traceID":"5b8efff798038103d269b633813fc60c""#),
        "multi-line query in JSON: {out}"
    );
    assert!(
        out.contains("resource.service.name=checkout"),
        "metrics table: {out}"
    );
    assert!(
        err.contains("parse error at line 1, col 7") && err.contains('^'),
        "{err}"
    );
    assert!(!err.contains("never"), "nothing runs after .quit: {err}");
}

#[test]
fn dot_commands_report_bad_input() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_traceql"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("TRACEQL_DATA")
        .spawn()
        .expect("run traceql");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"{ .a = 1 }\n.format yaml\n.bogus\n.range 5 1\n.explain { .a } | count() > 1\n")
        .expect("write");
    let o = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&o.stderr);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(err.contains("no data open"), "{err}");
    assert!(err.contains("unknown format"), "{err}");
    assert!(err.contains("unknown command .bogus"), "{err}");
    assert!(err.contains("end must be after"), "{err}");
    assert!(out.contains("valid: { .a }|count() > 1"), "{out}");
}
