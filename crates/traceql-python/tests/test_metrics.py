"""TraceQL metrics over generated shop traces."""

from __future__ import annotations

import pyarrow as pa
import pytest

import traceql
from conftest import GENERATED_START

# Wide enough for every generated span (traces start within the first hour).
START, END = GENERATED_START - 60, GENERATED_START + 7200


def total_spans(engine: traceql.Engine) -> int:
    return int(engine.search("{ }").metrics["inspectedSpans"])


def test_count_over_time_counts_every_span(shop: traceql.Engine) -> None:
    result = shop.metrics("{ } | count_over_time()", start=START, end=END, step="5m")
    assert len(result.series) == 1
    # proto3-JSON omits zero values.
    assert sum(s.get("value", 0) for s in result.series[0]["samples"]) == total_spans(shop)
    assert result.status is None


def test_by_labels_become_columns(shop: traceql.Engine) -> None:
    result = shop.metrics("{ } | count_over_time() by (resource.service.name)",
                          start=START, end=END, step=300)
    table = result.to_arrow()
    assert table.schema.names == ["resource.service.name", "timestamp", "value"]
    assert table.schema.field("timestamp").type == pa.timestamp("ms", tz="UTC")
    assert pa.compute.sum(table["value"]).as_py() == total_spans(shop)
    services = set(table["resource.service.name"].to_pylist())
    assert {"frontend", "checkout"} <= services
    assert len(services) == len(result.series)
    frame = result.to_pandas()
    assert len(frame) == table.num_rows
    per_service = frame.groupby("resource.service.name")["value"].sum()
    assert per_service.sum() == total_spans(shop)


def test_instant_query_gives_one_row_per_series(shop: traceql.Engine) -> None:
    result = shop.metrics("{ } | count_over_time() by (resource.service.name)",
                          start=START, end=END, instant=True)
    table = result.to_arrow()
    assert table.num_rows == len(result.series) > 1
    assert pa.compute.sum(table["value"]).as_py() == total_spans(shop)
    assert all(s.get("value", 0) > 0 for s in result.series)


def test_quantiles_are_labelled_p(shop: traceql.Engine) -> None:
    result = shop.metrics("{ } | quantile_over_time(duration, .5, .99)",
                          start=START, end=END, step="10m")
    table = result.to_arrow()
    assert set(table["p"].to_pylist()) == {0.5, 0.99}
    frame = result.to_pandas()
    medians = frame[frame["p"] == 0.5]["value"]
    p99s = frame[frame["p"] == 0.99]["value"]
    assert (p99s.to_numpy() >= medians.to_numpy()).all()


def test_exemplars_are_returned_and_can_be_limited(shop: traceql.Engine) -> None:
    query = "{ } | rate()"
    many = shop.metrics(query, start=START, end=END, step="5m")
    exemplars = many.series[0]["exemplars"]
    assert 0 < len(exemplars) <= 100
    keys = {kv["key"] for kv in exemplars[0]["labels"]}
    assert {"trace:id", "span:id"} <= keys
    few = shop.metrics(query, start=START, end=END, step="5m", exemplars=3)
    assert len(few.series[0]["exemplars"]) <= 3
    none = shop.metrics("{ } | rate() with(exemplars=false)", start=START, end=END, step="5m")
    assert "exemplars" not in none.series[0]


def test_metrics_errors(shop: traceql.Engine) -> None:
    with pytest.raises(traceql.InvalidRequestError):
        shop.metrics("{ } | rate()", start=END, end=START)
    with pytest.raises(traceql.InvalidRequestError):
        shop.metrics("{ } | rate()", start=START, end=END, step="fast")
    with pytest.raises(traceql.InvalidRequestError):
        shop.metrics("{ }", start=START, end=END)
    with pytest.raises(traceql.ValidationError):
        shop.metrics("{ } | rate() by (.a, .b, .c, .d, .e, .f)", start=START, end=END)
