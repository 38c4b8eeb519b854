"""Search, trace by ID and tags over ingested test data."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest

import traceql
from conftest import GENERATED_START, TESTDATA


def golden_cases():
    return json.loads((TESTDATA / "search" / "every_field.golden.json").read_text())


@pytest.mark.parametrize("case", golden_cases(), ids=lambda c: c["query"])
def test_golden_results_match_the_rust_tests(every_field: traceql.Engine, case) -> None:
    result = every_field.search(case["query"], spss=case.get("spss", 3))
    assert result.traces == case["expect"].get("traces", [])
    assert json.loads(result.json)["traces"] == result.traces


def test_inspection_metrics(every_field: traceql.Engine) -> None:
    result = every_field.search("{ }")
    assert result.metrics["totalBlocks"] == 1
    assert int(result.metrics["inspectedSpans"]) > 0
    assert int(result.metrics["inspectedBytes"]) > 0


def test_to_arrow_has_one_row_per_returned_span(every_field: traceql.Engine) -> None:
    query = '{ resource.service.name = "checkout" } >> { status = ok }'
    result = every_field.search(query)
    table = result.to_arrow()
    assert isinstance(table, pa.Table)
    expected_spans = [
        (t["traceID"], s["spanID"], s["name"])
        for t in result.traces
        for ss in t["spanSets"]
        for s in ss["spans"]
    ]
    assert table.num_rows == len(expected_spans) > 0
    assert list(zip(table["trace_id"].to_pylist(), table["span_id"].to_pylist(),
                    table["span_name"].to_pylist())) == expected_spans
    schema = table.schema
    assert schema.field("start_time").type == pa.timestamp("ns", tz="UTC")
    assert schema.field("duration").type == pa.duration("ns")
    assert schema.field("matched").type == pa.uint32()
    row = table.slice(0, 1).to_pylist()[0]
    span = result.traces[0]["spanSets"][0]["spans"][0]
    assert row["status"] == "ok"
    assert row["service_name"] == "checkout"
    assert row["root_service_name"] == result.traces[0]["rootServiceName"]
    assert row["duration"] == dt.timedelta(microseconds=int(span["durationNanos"]) // 1000)
    assert row["start_time"] == dt.datetime.fromtimestamp(
        int(span["startTimeUnixNano"]) // 10**9, tz=dt.timezone.utc
    ) + dt.timedelta(microseconds=int(span["startTimeUnixNano"]) % 10**9 // 1000)
    # Referenced attributes become columns: service.name (string), status (string).
    assert row["service.name"] == "checkout"


def test_attribute_columns_are_typed(every_field: traceql.Engine) -> None:
    result = every_field.search(
        "{ status = error } | select(span.http.response.status_code, resource.host.cpus)"
    )
    table = result.to_arrow()
    assert table.num_rows > 0
    assert pa.types.is_integer(table.schema.field("http.response.status_code").type)
    assert table["http.response.status_code"].to_pylist() == [200]


def test_spanset_attributes_become_columns(every_field: traceql.Engine) -> None:
    table = every_field.search("{ } | by(resource.service.name) | count() >= 1").to_arrow()
    names = table.schema.names
    assert "by(resource.service.name)" in names
    assert "count()" in names
    assert pa.types.is_integer(table.schema.field("count()").type)


def test_to_pandas(every_field: traceql.Engine) -> None:
    result = every_field.search("{ }", spss=100)
    frame = result.to_pandas()
    assert len(frame) == result.to_arrow().num_rows
    assert str(frame["start_time"].dtype) == "datetime64[ns, UTC]"
    assert set(frame["trace_id"]) == {t["traceID"] for t in result.traces}


def test_empty_result_still_has_the_schema(every_field: traceql.Engine) -> None:
    result = every_field.search('{ name = "no such span" }')
    assert len(result) == 0
    table = result.to_arrow()
    assert table.num_rows == 0
    assert "trace_id" in table.schema.names


def test_time_range_accepts_datetimes_seconds_and_strings(shop: traceql.Engine) -> None:
    begin, finish = GENERATED_START, GENERATED_START + 600
    forms = [
        (begin, finish),
        (float(begin), float(finish)),
        (str(begin), str(finish)),
        ("2023-11-14T22:13:20Z", "2023-11-14T22:23:20+00:00"),
        (dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.timezone.utc),
         dt.datetime(2023, 11, 14, 22, 23, 20)),
    ]
    results = [shop.search("{ }", start=s, end=e, limit=1000).traces for s, e in forms]
    assert results[0], "the first ten minutes hold traces"
    for other in results[1:]:
        assert other == results[0]
    everything = shop.search("{ }", limit=1000).traces
    assert len(everything) > len(results[0])


def test_bad_requests_raise(shop: traceql.Engine) -> None:
    with pytest.raises(traceql.InvalidRequestError):
        shop.search("{ }", start=GENERATED_START)
    with pytest.raises(traceql.InvalidRequestError):
        shop.search("{ }", limit=10**9)
    with pytest.raises(traceql.InvalidRequestError):
        shop.search("{ }", start="yesterday", end="today")
    with pytest.raises(traceql.InvalidRequestError):
        shop.search("{ } | rate()")
    with pytest.raises(traceql.ParseError) as raised:
        shop.search("{ .a = }")
    assert raised.value.column == 8


def test_query_errors_at_run_time(every_field: traceql.Engine) -> None:
    with pytest.raises(traceql.QueryError):
        every_field.search("{ span.ports = span.ports }")


def test_trace_by_id(every_field: traceql.Engine) -> None:
    found = every_field.search("{ }", spss=100).traces[0]
    trace = every_field.trace(found["traceID"])
    assert trace is not None
    spans = [
        s
        for rs in trace["trace"]["resourceSpans"]
        for ss in rs["scopeSpans"]
        for s in ss["spans"]
    ]
    assert len(spans) >= sum(ss["matched"] for ss in found["spanSets"])
    assert every_field.trace("00000000000000000000000000abcdef") is None
    with pytest.raises(traceql.InvalidRequestError):
        every_field.trace("not hex")


def test_tags_and_tag_values(shop: traceql.Engine) -> None:
    tags = shop.tags()
    assert "http.route" in tags["span"]
    assert "service.name" in tags["resource"]
    assert list(shop.tags("resource")) == ["resource"]
    services = {v["value"] for v in shop.tag_values("resource.service.name")}
    assert {"frontend", "checkout"} <= services
    only = shop.tag_values("resource.service.name", '{ resource.service.name = "checkout" }')
    assert [v["value"] for v in only] == ["checkout"]
    assert all(v["type"] == "string" for v in only)


def test_a_bad_url_raises_a_data_error() -> None:
    with pytest.raises(traceql.DataError):
        traceql.open("nope://bucket/prefix")


def test_a_missing_input_file_raises_a_data_error(tmp_path) -> None:
    with pytest.raises(traceql.DataError):
        traceql.ingest(str(tmp_path), [tmp_path / "missing.json"])
    assert traceql.open(str(tmp_path)).search("{ }").traces == []


def test_a_corrupt_block_raises_a_data_error(tmp_path) -> None:
    meta = traceql.ingest(str(tmp_path), TESTDATA / "otlp" / "every_field.json")
    data = next(tmp_path.rglob("data.parquet"))
    raw = bytearray(data.read_bytes())
    raw[4 : len(raw) // 2] = b"\x17" * (len(raw) // 2 - 4)
    data.write_bytes(bytes(raw))
    engine = traceql.open(str(tmp_path))
    assert meta["spanCount"] > 0 if "spanCount" in meta else meta["span_count"] > 0
    with pytest.raises(traceql.DataError) as raised:
        engine.search("{ }")
    assert "data.parquet" in str(raised.value)


def test_memory_limit(shop: traceql.Engine) -> None:
    small = traceql.open(shop.url, memory_limit=10_000)
    with pytest.raises(traceql.MemoryLimitError) as raised:
        small.search("{ }")
    assert "memory" in str(raised.value).lower()
    # The reference path (a negated condition over an event and a span field) names the limit
    # it hit.
    with pytest.raises(traceql.MemoryLimitError) as raised:
        small.search('{ !(event:name = "no-such-event" && kind = server) }')
    assert "10000 bytes" in str(raised.value)
    roomy = traceql.open(shop.url, memory_limit=1 << 30)
    assert roomy.search("{ }").traces == shop.search("{ }").traces
    with pytest.raises(traceql.InvalidRequestError):
        traceql.open(shop.url, memory_limit=0)


def test_referenced_intrinsics_do_not_repeat_fixed_columns(every_field: traceql.Engine) -> None:
    table = every_field.search("{ status = ok }").to_arrow()
    assert table.schema.names.count("status") == 1
    assert "status_2" not in table.schema.names
