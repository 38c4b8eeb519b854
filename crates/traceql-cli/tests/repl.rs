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

/// Runs the shell on the data in `dir` with `script` as its standard input.
fn piped(dir: &tempfile::TempDir, script: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_traceql"))
        .args(["--data", dir.path().to_str().expect("utf-8")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run traceql");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write");
    child.wait_with_output().expect("wait")
}

#[test]
fn queries_piped_through_stdin_run_in_order() {
    let dir = data_dir();
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
    let o = piped(&dir, script);
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

#[cfg(unix)]
#[test]
fn an_interactive_session_in_a_terminal() {
    let dir = data_dir();
    let command = format!(
        "{} --data {}",
        env!("CARGO_BIN_EXE_traceql"),
        dir.path().display()
    );
    let mut p = rexpect::spawn(&command, Some(20_000)).expect("spawn in a pty");
    p.exp_string("traceql> ").expect("prompt");
    // A query prints its table.
    p.send_line("{ name = `charge` }").expect("send");
    p.exp_string("1 trace(s)").expect("result table");
    // An unbalanced query continues on the next line until the brace closes.
    p.send_line("{ name = `charge`").expect("send");
    p.send_line("}").expect("send");
    p.exp_string("1 trace(s)")
        .expect("result after the closing brace");
    // A bad query shows the caret.
    p.send_line("{ .a == 1 }").expect("send");
    p.exp_string("^").expect("caret");
    // Tab completes an attribute name from the data.
    p.send("{ span.db.sy").expect("send");
    p.send("\t").expect("tab");
    p.send_line(" = `postgresql` }").expect("send");
    p.exp_string("SELECT orders").expect("completed query ran");
    // Ctrl-D leaves.
    p.send_control('d').expect("ctrl-d");
    p.exp_eof().expect("exit");
}

#[cfg(unix)]
#[test]
fn ctrl_c_cancels_a_running_query_and_keeps_the_session() {
    let dir = tempfile::tempdir().expect("temp dir");
    let o = Command::new(env!("CARGO_BIN_EXE_traceql"))
        .args(["generate", "--data", dir.path().to_str().expect("utf-8")])
        .args(["--spans", "100000"])
        .output()
        .expect("generate");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let command = format!(
        "{} --data {}",
        env!("CARGO_BIN_EXE_traceql"),
        dir.path().display()
    );
    let mut p = rexpect::spawn(&command, Some(60_000)).expect("spawn in a pty");
    p.exp_string("traceql> ").expect("prompt");
    // A structural query over every span takes seconds in a debug build.
    p.send_line("{ } >> { } >> { } | count() > 1000")
        .expect("send");
    // The spinner counts blocks and spans while the query runs.
    p.exp_string("searching: block 1 of 1, ")
        .expect("progress line");
    p.send_control('c').expect("ctrl-c");
    p.exp_string("cancelled").expect("the query is cancelled");
    // The session goes on: the next query runs.
    p.send_line("{ name = `no-such-span` }").expect("send");
    p.exp_string("0 trace(s)").expect("next query ran");
    p.send_control('d').expect("ctrl-d");
    p.exp_eof().expect("exit");
}

#[test]
fn explain_runs_the_query_and_shows_its_datafusion_plans() {
    let dir = data_dir();
    let o = piped(
        &dir,
        concat!(
            ".explain { status = error } | count_over_time() by (resource.service.name)\n",
            ".explain { } >> { } | rate()\n",
            ".explain { duration * 2 > 1s } | rate()\n",
            ".explain { status = error } >> { }\n",
            ".explain { } !> { }\n",
            ".explain { !(event:name = \"no-such-event\" && kind = server) }\n",
            ".explain { duration > 1000h } >> { duration > 2000h }\n",
            ".explain { name = \"Q-no-such-span\" } >> { name = \"R-no-such-span\" }\n",
            ".explain { name = \"Q-no-such-span\" } | rate()\n",
        ),
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        out.contains("path: columnar (DataFusion) over 1 block(s)"),
        "{out}"
    );
    // The physical plan ran: the scan shows the pushed-down predicate and row counts.
    assert!(out.contains("DataSourceExec"), "{out}");
    assert!(
        out.contains("predicate=") && out.contains("status_code"),
        "{out}"
    );
    assert!(out.contains("output_rows="), "{out}");
    assert!(out.contains("path: reference evaluator"), "{out}");
    // Searches too: a structural query finds its candidate traces on DataFusion, window by
    // window from the newest.
    assert!(out.contains("first window: 1 row group(s)"), "{out}");
    assert_eq!(out.matches("path: reference evaluator").count(), 2, "{out}");
    // Negated structural operators find their candidates on DataFusion too.
    assert!(out.contains("wanted: LowerAlone"), "{out}");
    // Structural metrics keep the spans the operator returns in Rust after a DataFusion scan.
    assert!(out.contains("structural first stage"), "{out}");
    // Row groups whose statistics or bloom filters rule out every condition are not scanned
    // at all (the durations, by their maximum); a block whose meta.json records none of the
    // names asked for is passed over without reading its footer.
    let pruned = "row groups: 0 to scan, 1 pruned by statistics or bloom filters; nothing to scan";
    assert!(
        out.contains("row groups: 1 to scan, 0 pruned by statistics or bloom filters\n"),
        "{out}"
    );
    assert_eq!(out.matches(pruned).count(), 1, "{out}");
    let passed_over = "blocks: 1 of 1 passed over by the values their meta.json records\n\
                       row groups: 0 to scan, 0 pruned by statistics or bloom filters; nothing to scan";
    assert_eq!(out.matches(passed_over).count(), 1, "{out}");
    // Metrics plan no aggregation for a block no row group of which may match.
    assert!(
        out.contains(
            "no row group may match (by the values meta.json records, statistics or bloom filters)"
        ),
        "{out}"
    );
}
