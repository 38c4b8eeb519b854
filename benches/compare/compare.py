#!/usr/bin/env python3
"""traceql against DuckDB and DataFusion SQL on the same span blocks, in one run.

Generates the synthetic shop with the release `traceql` binary (unless the data set is already
there), then runs every query of the suite below through three engines on the same Parquet
files: traceql (the CLI), DuckDB (hand-written SQL, structural queries as nested-set
self-joins) and DataFusion SQL (the Python bindings). Each query's answers are compared across
the engines before its times count. Writes a Markdown table, a JSON file and a PNG chart.

    python3 benches/compare/compare.py [--spans 10000000] [--runs 3]

Every engine runs each query in a fresh process, which reports its own peak memory (VmHWM),
and is timed around its query inside that process: traceql by its `--timing` (from opening the
blocks, the footers it reads included, to the finished response), DuckDB and DataFusion around
the SQL once the files are registered. traceql's whole-process time and the SQL engines'
registration times (which read the footers) are reported as well, but not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[2]
TENANT = "single-tenant"
START = 1_700_000_000  # the generated data's first second (unix)
WINDOW = 3600
STEP = 60

# The generator writes these keys as dedicated columns; SQL reads them by name.
SERVICE = '"resource.service.name"'


@dataclass
class Case:
    """One query in its three forms."""

    name: str
    kind: str  # "search" (the newest 20 matching trace IDs) or "metrics" (count per service and step)
    traceql: str
    sql: str  # over the view `spans`; search: (trace_id_hex, trace_start); metrics: (label, ts_ms, n)
    structural: bool = False
    # Metrics: what one span adds to a sample (a rate over 60 s steps counts 1/60 per span).
    per_span: float = 1.0
    # Metrics: how answers compare. "counts": samples over `per_span`, as whole spans, equal;
    # "values": samples (seconds, ratios) equal within a relative 1e-9; "sampled": traceql
    # samples a share of the spans, so the sums of all samples agree within 5%.
    values: str = "counts"
    # Metrics: traceql keeps at most this many series (and says the answer is partial); the
    # SQL answers are compared on the series traceql kept.
    series_limit: Optional[int] = None
    # Metrics: the SQL answers hold every series and traceql's only some (compare() keeps the
    # top values of each attribute); answers are compared on the series traceql returns.
    on_kept_series: bool = False


def search_sql(where: str) -> str:
    return f"""
        SELECT trace_id_hex, trace_start FROM (
            SELECT DISTINCT lower(hex(trace_id)) AS trace_id_hex, trace_start_unix_nano AS trace_start
            FROM spans WHERE {where})
        ORDER BY trace_start DESC, trace_id_hex LIMIT 20"""


def trace_sql(having: str) -> str:
    """The newest 20 traces whose spans, grouped, satisfy `having`."""
    return f"""
        SELECT trace_id_hex, trace_start FROM (
            SELECT lower(hex(trace_id)) AS trace_id_hex, trace_start_unix_nano AS trace_start
            FROM spans GROUP BY 1, 2 HAVING {having})
        ORDER BY trace_start DESC, trace_id_hex LIMIT 20"""


def structural_sql(parent: str, child: str, relation: str) -> str:
    return f"""
        SELECT trace_id_hex, trace_start FROM (
            SELECT DISTINCT lower(hex(b.trace_id)) AS trace_id_hex, b.trace_start_unix_nano AS trace_start
            FROM spans a JOIN spans b ON a.trace_id = b.trace_id AND {relation}
            WHERE {parent} AND {child})
        ORDER BY trace_start DESC, trace_id_hex LIMIT 20"""


def metrics_sql(where: str, label: str = SERVICE) -> str:
    # Right-closed intervals stamped at their right edge (ms), as Tempo's.
    start = START * 1_000_000_000
    step = STEP * 1_000_000_000
    end = start + (WINDOW + STEP) * 1_000_000_000
    return f"""
        SELECT {label} AS label, ((start_time_unix_nano - 1) // {step} + 1) * {STEP * 1000} AS ts, count(*) AS n
        FROM spans
        WHERE {where} AND start_time_unix_nano > {start} AND start_time_unix_nano <= {end}
        GROUP BY 1, 2"""


def in_range_sql() -> str:
    start = START * 1_000_000_000
    end = start + (WINDOW + STEP) * 1_000_000_000
    return f"start_time_unix_nano > {start} AND start_time_unix_nano <= {end}"


def ts_sql() -> str:
    """A span's interval, stamped at its right edge (ms)."""
    step = STEP * 1_000_000_000
    return f"((start_time_unix_nano - 1) // {step} + 1) * {STEP * 1000}"


def bucket_sql() -> str:
    """A duration's power-of-two bucket (ns), as Tempo's histograms and quantiles take it."""
    return "power(2, ceil(log2(duration_nano)))"


def value_sql(aggregate: str, label: str) -> str:
    """`aggregate` of the durations (seconds) per `label` and interval."""
    return f"""
        SELECT {label} AS label, {ts_sql()} AS ts, {aggregate}(duration_nano) / 1e9 AS v
        FROM spans WHERE {in_range_sql()}
        GROUP BY 1, 2"""


def histogram_sql() -> str:
    """Spans per power-of-two duration bucket (labelled by its bound in seconds) and interval;
    durations below 2 ns have no bucket."""
    return f"""
        SELECT {bucket_sql()} / 1e9 AS label, {ts_sql()} AS ts, count(*) AS n
        FROM spans WHERE {in_range_sql()} AND duration_nano >= 2
        GROUP BY 1, 2"""


def quantile_sql(quantiles: List[float]) -> str:
    """Tempo's quantile of durations over power-of-two buckets, per quantile and interval: walk
    the buckets to rank ceil(p·N) and interpolate exponentially inside the bucket reached."""
    ps = ", ".join(f"(CAST({q} AS DOUBLE))" for q in quantiles)
    return f"""
        WITH buckets AS (
            SELECT {ts_sql()} AS ts, {bucket_sql()} AS bucket, count(*) AS n
            FROM spans WHERE {in_range_sql()} AND duration_nano >= 2
            GROUP BY 1, 2),
        walked AS (
            SELECT ts, bucket, n,
                   sum(n) OVER (PARTITION BY ts ORDER BY bucket ROWS UNBOUNDED PRECEDING) AS upto,
                   sum(n) OVER (PARTITION BY ts) AS total
            FROM buckets),
        ranked AS (
            SELECT p, ts, bucket, n, upto, greatest(1.0, ceil(p * total)) AS rank
            FROM walked CROSS JOIN (VALUES {ps}) AS ps(p))
        SELECT p AS label, ts, bucket / 2 * power(2, (rank - (upto - n)) / n) / 1e9 AS v
        FROM ranked WHERE upto - n < rank AND rank <= upto"""


# Stands for compare()'s SQL until the data set's dedicated columns are known.
COMPARE_SQL = "-- compare_sql(dedicated columns)"

# OTLP span kinds and status codes by number, as TraceQL names them.
KIND_NAMES = ["unspecified", "internal", "server", "client", "producer", "consumer"]
STATUS_NAMES = ["unset", "ok", "error"]
# compare(): the generic attribute types whose values are labels compared as text (string,
# integer, boolean); doubles are counted but their text differs between engines.
GENERIC_SCALAR = "a['type'] IN (1, 2, 3, 4)"


def compare_sql(dedicated: List[str]) -> str:
    """`{ name != nil } | compare({ status = error })`: spans per interval, attribute value and
    side (selection: errors; baseline: the others), over the intrinsics name, kind and status,
    every dedicated column `dedicated` and every scalar generic attribute; labelled
    `side|attribute=value`."""
    kinds = " ".join(f"WHEN {i} THEN '{n}'" for i, n in enumerate(KIND_NAMES))
    statuses = " ".join(f"WHEN {i} THEN '{n}'" for i, n in enumerate(STATUS_NAMES))
    parts = [
        "SELECT 'name' AS attr, name AS value, sel, ts FROM s",
        f"SELECT 'kind', CASE kind {kinds} END, sel, ts FROM s",
        f"SELECT 'status', CASE status_code {statuses} END, sel, ts FROM s",
    ]
    parts += [f"SELECT '{c}', CAST(\"{c}\" AS VARCHAR), sel, ts FROM s WHERE \"{c}\" IS NOT NULL"
              for c in dedicated]
    generic_value = ("COALESCE(a['str'], CAST(a['int'] AS VARCHAR), CAST(a['bool'] AS VARCHAR), "
                     "CAST(a['double'] AS VARCHAR))")
    for scope, column in (("span", "span_attrs"), ("resource", "resource_attrs")):
        parts.append(f"SELECT '{scope}.' || a['key'], {generic_value}, sel, ts FROM "
                     f"(SELECT unnest({column}) AS a, sel, ts FROM s) AS u WHERE {GENERIC_SCALAR}")
    union = "\n            UNION ALL ".join(parts)
    return f"""
        WITH s AS (
            SELECT *, status_code = 2 AS sel, {ts_sql()} AS ts
            FROM spans WHERE name IS NOT NULL AND {in_range_sql()}),
        attrs AS (
            {union})
        SELECT CASE WHEN sel THEN 'selection' ELSE 'baseline' END || '|' || attr || '=' || value
               AS label, ts, count(*) AS n
        FROM attrs GROUP BY 1, 2"""


DESCENDANT = "a.nested_set_left < b.nested_set_left AND b.nested_set_right < a.nested_set_right"
CHILD = "b.parent_left = a.nested_set_left"
# Two different spans with a place in the tree under the same parent.
SIBLING = ("a.parent_left = b.parent_left AND a.nested_set_left <> b.nested_set_left "
           "AND a.nested_set_left <> 0 AND b.nested_set_left <> 0")

CASES = [
    Case("spanAttValMatch", "search", '{ span.db.system = "postgresql" }',
         search_sql('"span.db.system" = \'postgresql\'')),
    Case("resourceAttMatch", "search", '{ resource.service.name = "checkout" }',
         search_sql(f"{SERVICE} = 'checkout'")),
    Case("traceOrMatch", "search",
         '{ rootServiceName = "frontend" && (status = error || span.http.response.status_code = 500) }',
         search_sql("trace_root_service = 'frontend' AND (status_code = 2 OR \"span.http.response.status_code\" = 500)")),
    Case("frontendErrors", "search", '{ resource.service.name = "frontend" } >> { status = error }',
         structural_sql(f"a.{SERVICE} = 'frontend'", "b.status_code = 2", DESCENDANT), structural=True),
    Case("checkoutClients", "search", '{ resource.service.name = "checkout" } > { kind = client }',
         structural_sql(f"a.{SERVICE} = 'checkout'", "b.kind = 3", CHILD), structural=True),
    Case("countByService", "metrics", "{ } | count_over_time() by (resource.service.name)",
         metrics_sql("true")),
    Case("errorCountByService", "metrics", "{ status = error } | count_over_time() by (resource.service.name)",
         metrics_sql("status_code = 2")),
]

NOPE = "does-not-exist-6c2408325a45"
CODE = '"span.http.response.status_code"'
OR = f"(status_code = 2 OR {CODE} = 500)"
RATE = 1 / STEP

# More of the benchmark suite (shared/spec/benchmark-suite.md), answered by plain SQL over the
# dedicated columns, mapped onto the shop: attributes the shop does not have become dedicated
# ones it has, with values nobody has where the suite wants no match.
CASES += [
    Case("spanAttValMatchFew", "search", '{ span.db.system =~ "red.*" }',
         search_sql('"span.db.system" LIKE \'red%\'')),
    Case("spanAttValNoMatch", "search", f'{{ span.db.system = "{NOPE}" }}',
         search_sql(f'"span.db.system" = \'{NOPE}\'')),
    Case("spanAttIntrinsicMatch", "search", '{ name = "oteldemo.CheckoutService/PlaceOrder" }',
         search_sql("name = 'oteldemo.CheckoutService/PlaceOrder'")),
    Case("spanAttIntrinsicNoMatch", "search", f'{{ name = "{NOPE}" }}',
         search_sql(f"name = '{NOPE}'")),
    Case("resourceAttValMatch", "search", '{ resource.service.version = "1.4.0" }',
         search_sql('"resource.service.version" = \'1.4.0\'')),
    Case("resourceAttIntrinsicNoMatch", "search", f'{{ resource.service.name = "{NOPE}" }}',
         search_sql(f"{SERVICE} = '{NOPE}'")),
    Case("traceOrNoMatch", "search",
         '{ rootServiceName = "doesntexist" && (status = error || span.http.response.status_code = 500) }',
         search_sql(f"trace_root_service = 'doesntexist' AND {OR}")),
    Case("mixedValMixedMatchAnd", "search",
         '{ resource.k8s.cluster.name =~ "prod.*" && name = "SELECT shop.products" }',
         search_sql('"resource.k8s.cluster.name" LIKE \'prod%\' AND name = \'SELECT shop.products\'')),
    Case("count", "search", "{ } | count() > 1", trace_sql("count(*) > 1")),
    Case("or", "search", '{ resource.service.name = "checkout" } || { resource.service.name = "payment" }',
         search_sql(f"{SERVICE} = 'checkout' OR {SERVICE} = 'payment'")),
    Case("and", "search", '{ resource.service.name = "checkout" } && { resource.service.name = "payment" }',
         trace_sql(f"bool_or({SERVICE} = 'checkout') AND bool_or({SERVICE} = 'payment')")),
    Case("mixed", "search",
         '{ resource.service.namespace != "" && resource.service.name = "frontend" && duration > 50ms '
         '&& resource.k8s.cluster.name =~ "prod.*" }',
         search_sql(f'"resource.service.namespace" != \'\' AND {SERVICE} = \'frontend\' '
                    'AND duration_nano > 50000000 AND "resource.k8s.cluster.name" LIKE \'prod%\'')),
    Case("select", "search",
         '{ resource.k8s.cluster.name =~ "prod.*" && resource.k8s.namespace.name = "shop" } '
         '| select(resource.k8s.container.name)',
         search_sql('"resource.k8s.cluster.name" LIKE \'prod%\' AND "resource.k8s.namespace.name" = \'shop\'')),
    Case("rate", "metrics", "{ } | rate()", metrics_sql("true", "NULL"), per_span=RATE),
    # Spans without the attribute form a series labelled `nil`, as in Tempo.
    Case("rateByStatusCode", "metrics", "{ } | rate() by (span.http.response.status_code)",
         metrics_sql("true", f"coalesce(CAST({CODE} AS VARCHAR), 'nil')"), per_span=RATE),
    Case("serviceRate", "metrics", '{ resource.service.name = "checkout" } | rate()',
         metrics_sql(f"{SERVICE} = 'checkout'", "NULL"), per_span=RATE),
    Case("errorRate", "metrics", "{ status = error } | rate()",
         metrics_sql("status_code = 2", "NULL"), per_span=RATE),
]

# The suite's structural operands, and its queries on attributes the shop lacks, mapped onto
# dedicated columns it has (a value nobody has where the suite wants no match).
LHS, RHS = '{ resource.service.name != "frontend" }', '{ resource.service.name = "payment" && status = error }'
LHS_SQL, RHS_SQL = f"a.{SERVICE} <> 'frontend'", f"b.{SERVICE} = 'payment' AND b.status_code = 2"
CASES += [
    Case("spanAttIntrinsicMatchFew", "search", '{ name = "oteldemo.EmailService/SendOrderConfirmation" }',
         search_sql("name = 'oteldemo.EmailService/SendOrderConfirmation'")),
    Case("resourceAttValNoMatch", "search", f'{{ resource.k8s.pod.name = "{NOPE}" }}',
         search_sql(f'"resource.k8s.pod.name" = \'{NOPE}\'')),
    Case("traceOrMatchFew", "search",
         '{ rootName = "POST /api/checkout" && (status = error || span.http.response.status_code = 500) }',
         search_sql(f"trace_root_name = 'POST /api/checkout' AND {OR}")),
    # Unscoped: the span's value, else the resource's (no resource has db.system).
    Case("mixedValNoMatch", "search", f'{{ .db.system = "{NOPE}" }}',
         search_sql(f'"span.db.system" = \'{NOPE}\'')),
    Case("mixedValMixedMatchOr", "search",
         '{ resource.k8s.namespace.name = "bar" || name = "SELECT shop.products" }',
         search_sql('"resource.k8s.namespace.name" = \'bar\' OR name = \'SELECT shop.products\'')),
    Case("struct", "search", f"{LHS} >> {RHS}", structural_sql(LHS_SQL, RHS_SQL, DESCENDANT),
         structural=True),
    Case("sibling", "search", f"{LHS} ~ {RHS}", structural_sql(LHS_SQL, RHS_SQL, SIBLING),
         structural=True),
    Case("child", "search", f"{LHS} > {RHS}", structural_sql(LHS_SQL, RHS_SQL, CHILD),
         structural=True),
    Case("complex", "search",
         '{ resource.k8s.cluster.name =~ "prod.*" && resource.k8s.namespace.name = "shop" '
         '&& resource.k8s.container.name = "frontend" && name = "GET /api/cart" '
         '&& span.http.response.status_code = 200 && duration > 2ms }',
         search_sql('"resource.k8s.cluster.name" LIKE \'prod%\' AND "resource.k8s.namespace.name" = \'shop\' '
                    'AND "resource.k8s.container.name" = \'frontend\' AND name = \'GET /api/cart\' '
                    f'AND {CODE} = 200 AND duration_nano > 2000000')),
    Case("sampledRate", "metrics", "{ } | rate() with(sample=true)", metrics_sql("true", "NULL"),
         per_span=RATE, values="sampled"),
    Case("rateByService", "metrics", "{ } | rate() by (resource.service.name)", metrics_sql("true"),
         per_span=RATE),
    Case("rateByUrl", "metrics", "{ } | rate() by (span.http.url)",
         metrics_sql("true", "coalesce(\"span.http.url\", 'nil')"), per_span=RATE, series_limit=1000),
    Case("filteredRateBy", "metrics",
         '{ span.server.address != "" && span.http.request.method = "GET" } '
         '| rate() by (span.http.request.method)',
         metrics_sql('"span.server.address" <> \'\' AND "span.http.request.method" = \'GET\'',
                     '"span.http.request.method"'), per_span=RATE),
    Case("quantiles", "metrics", "{ } | quantile_over_time(duration, .99, .9, .5)",
         quantile_sql([0.99, 0.9, 0.5]), values="values"),
    Case("histogram", "metrics", "{ } | histogram_over_time(duration)", histogram_sql()),
    Case("avgByStatusCode", "metrics", "{ } | avg_over_time(duration) by (span.http.response.status_code)",
         value_sql("avg", f"coalesce(CAST({CODE} AS VARCHAR), 'nil')"), values="values"),
    Case("maxByStatusCode", "metrics", "{ } | max_over_time(duration) by (span.http.response.status_code)",
         value_sql("max", f"coalesce(CAST({CODE} AS VARCHAR), 'nil')"), values="values"),
    Case("minByStatusCode", "metrics", "{ } | min_over_time(duration) by (span.http.response.status_code)",
         value_sql("min", f"coalesce(CAST({CODE} AS VARCHAR), 'nil')"), values="values"),
    Case("childRateByName", "metrics", "{ } > { } | rate() by (name)",
         metrics_sql("EXISTS (SELECT 1 FROM spans a WHERE a.trace_id = spans.trace_id "
                     "AND a.nested_set_left <> 0 AND spans.parent_left = a.nested_set_left)", "name"),
         per_span=RATE),
    Case("rateSum", "metrics", "({ } | rate()) + ({ } | rate())", metrics_sql("true", "NULL"),
         per_span=2 * RATE),
    Case("rateOverCount", "metrics", "({ } | rate()) / ({ } | count_over_time())",
         f"SELECT NULL AS label, {ts_sql()} AS ts, (count(*) / 60.0) / count(*) AS v "
         f"FROM spans WHERE {in_range_sql()} GROUP BY 1, 2", values="values"),
]

# Negated structural search and structural metrics: SQL needs a correlated (anti or semi) join
# on the nested sets. The correlated subquery reads the outer row as `spans`.
CASES += [
    Case("structNotChild", "search", '{ kind = server } !> { status = error }',
         search_sql("status_code = 2 AND NOT EXISTS (SELECT 1 FROM spans a WHERE "
                    "a.trace_id = spans.trace_id AND a.kind = 2 AND a.nested_set_left > 0 "
                    "AND spans.parent_left = a.nested_set_left)"), structural=True),
    Case("compare", "metrics", "{ name != nil } | compare({ status = error })", COMPARE_SQL,
         on_kept_series=True),
    Case("structMetrics", "metrics",
         '{ resource.service.name = "frontend" } >> { status = error } '
         '| count_over_time() by (resource.service.name)',
         metrics_sql(f"status_code = 2 AND EXISTS (SELECT 1 FROM spans a WHERE "
                     f"a.trace_id = spans.trace_id AND a.{SERVICE} = 'frontend' "
                     "AND a.nested_set_left < spans.nested_set_left "
                     "AND spans.nested_set_right < a.nested_set_right)")),
]


@dataclass
class Measured:
    times: List[float] = field(default_factory=list)
    # traceql only: the whole process's wall time (`times` holds its in-process query time).
    process_times: List[float] = field(default_factory=list)
    # SQL engines only: the time registering the files took before the query (not in `times`).
    open_times: List[float] = field(default_factory=list)
    rss_kb: int = 0
    answer: Any = None
    error: Optional[str] = None

    @property
    def median(self) -> float:
        return statistics.median(self.times) if self.times else float("nan")

    @property
    def process_median(self) -> Optional[float]:
        return statistics.median(self.process_times) if self.process_times else None

    @property
    def open_median(self) -> Optional[float]:
        return statistics.median(self.open_times) if self.open_times else None


def run_child(cmd: List[str]) -> tuple[float, int, str, str]:
    """Runs `cmd`; returns wall seconds, its peak RSS (KiB), its standard output and error."""
    import tempfile

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:4])} failed: {err.read().strip()[-800:]}")
        return elapsed, usage.ru_maxrss, out.read(), err.read()


# ---- engines ------------------------------------------------------------------------------

def traceql_run(binary: Path, data: Path, case: Case) -> tuple[float, int, Any, Optional[float], None]:
    """The query time traceql reports (`--timing`), its peak RSS, its answer and its whole
    process's wall time."""
    if case.kind == "search":
        cmd = [str(binary), "search", "--data", str(data), "--limit", "20", "--format", "json",
               "--timing", case.traceql]
    else:
        cmd = [str(binary), "metrics", "--data", str(data), "--start", str(START),
               "--end", str(START + WINDOW + STEP), "--step", f"{STEP}s", "--exemplars", "0",
               "--format", "json", "--timing", case.traceql]
    process, rss, out, err = run_child(cmd)
    timing = re.search(r"query time: ([0-9.]+) ms", err)
    if timing is None:
        raise RuntimeError(f"traceql printed no query time: {err.strip()[-400:]}")
    elapsed = float(timing.group(1)) / 1000
    # The process's own peak (VmHWM): what wait4 reports also counts the harness it was forked
    # from, which grows with the answers it holds.
    peak = re.search(r"peak memory: ([0-9.]+) MiB", err)
    if peak is not None:
        rss = round(float(peak.group(1)) * 1024)
    response = json.loads(out)
    if case.kind == "search":
        answer = sorted(t["traceID"] for t in response.get("traces", []))
    elif case.on_kept_series:
        answer = compare_answer(response)
    else:
        answer = {}
        for series in response.get("series", []):
            # The first `by` label's value, whatever its type (proto3 JSON: int64 as a string);
            # a series without `by` is named by `__name__` alone.
            label = next((next(iter(kv["value"].values()), None) for kv in series["labels"]
                          if kv["key"] != "__name__"), None)
            for sample in series.get("samples", []):
                value = sample.get("value", 0)
                if value:
                    value /= case.per_span
                    answer[f"{label}/{int(sample['timestampMs'])}"] = \
                        round(value) if case.values == "counts" else value
    return elapsed, rss, answer, process, None


def compare_answer(response: Dict[str, Any]) -> Dict[str, int]:
    """compare()'s selection and baseline series of values with a text form the SQL engines
    share (strings, integers, booleans), as `side|attribute=value/timestamp` → spans."""
    answer = {}
    for series in response.get("series", []):
        labels = {kv["key"]: kv["value"] for kv in series["labels"]}
        side = labels.pop("__meta_type", {}).get("stringValue")
        if side not in ("selection", "baseline") or len(labels) != 1:
            continue
        (attr, value), = labels.items()
        kind, text = next(iter(value.items()))
        if kind == "boolValue":
            text = "true" if text else "false"
        elif kind not in ("stringValue", "intValue"):
            continue
        for sample in series.get("samples", []):
            if sample.get("value"):
                answer[f"{side}|{attr}={text}/{int(sample['timestampMs'])}"] = round(sample["value"])
    return answer


def sql_answer(case: Case, rows: List[tuple]) -> Any:
    if case.kind == "search":
        # traceql prints trace IDs without leading zeros.
        return sorted(r[0].lstrip("0") or "0" for r in rows)
    if case.values == "values":
        return {f"{label}/{int(ts)}": float(v) for label, ts, v in rows if v}
    return {f"{label}/{int(ts)}": int(n) for label, ts, n in rows if n}


def series_of(key: str) -> str:
    """The series (label) of an answer's `label/timestamp` key."""
    return key.rsplit("/", 1)[0]


def compared_as(case: Case) -> str:
    """How `case`'s answers are compared, where that is not equality of the whole answer."""
    if case.values == "sampled":
        return "sampled: totals within 5%"
    if case.series_limit is not None:
        return f"on the {case.series_limit:,} series traceql keeps"
    if case.on_kept_series:
        return "on the series traceql returns"
    if case.values == "values":
        return "within 1e-9"
    return ""


def same_answers(case: Case, answers: Dict[str, Any]) -> bool:
    """Whether every engine's answer (by engine name) is the same, as `case` compares them."""
    if case.series_limit is not None and "traceql" in answers:
        kept = {series_of(k) for k in answers["traceql"]}
        if len(kept) != case.series_limit:
            return False
        sql = [a for n, a in answers.items() if n != "traceql"]
        if any(a != sql[0] for a in sql):
            return False
        answers = {n: {k: v for k, v in a.items() if series_of(k) in kept} for n, a in answers.items()}
    if case.on_kept_series and "traceql" in answers:
        kept = answers["traceql"]
        return bool(kept) and all({k: a.get(k) for k in kept} == kept for a in answers.values())
    first, *rest = answers.values()
    if case.values == "sampled":
        total = sum(first.values())
        return all(abs(sum(a.values()) - total) <= 0.05 * total for a in rest)
    if case.values == "values":
        return all(a.keys() == first.keys()
                   and all(abs(a[k] - first[k]) <= 1e-9 * abs(first[k]) for k in a) for a in rest)
    return all(a == first for a in rest)


def sql_worker(engine: str, data: Path, sql: str) -> None:
    """In a child process: registers the files, runs `sql` once and prints its rows, the query's
    time and the registration's time as JSON."""
    files = str(data / TENANT / "*" / "data.parquet")
    if engine == "duckdb":
        import duckdb

        started = time.perf_counter()
        con = duckdb.connect()
        con.execute(f"CREATE VIEW spans AS SELECT * FROM read_parquet('{files}', union_by_name=true)")
        opened = time.perf_counter()
        rows = con.execute(sql).fetchall()
    else:
        import datafusion

        started = time.perf_counter()
        # Blocks are sub-folders of the tenant: list them too.
        config = datafusion.SessionConfig().set(
            "datafusion.execution.listing_table_ignore_subdirectory", "false")
        ctx = datafusion.SessionContext(config)
        ctx.register_parquet("spans", str(data / TENANT) + "/", file_extension=".parquet")
        opened = time.perf_counter()
        rows = [tuple(r.values()) for r in ctx.sql(sql).to_pylist()]
    elapsed = time.perf_counter() - opened
    print(json.dumps({"elapsed": elapsed, "open": opened - started, "peak_kb": own_peak_kb(),
                      "rows": [[str(c) if isinstance(c, bytes) else c for c in r] for r in rows]}))


def own_peak_kb() -> Optional[int]:
    """This process's peak resident memory (VmHWM), KiB; None where /proc does not tell it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def sql_run(engine: str, data: Path, case: Case) -> tuple[float, int, Any, None, float]:
    sql = case.sql
    if engine == "datafusion":
        # DataFusion spells hex() `encode(x, 'hex')` and integer division `/`.
        sql = sql.replace("lower(hex(trace_id))", "encode(trace_id, 'hex')")
        sql = sql.replace("lower(hex(b.trace_id))", "encode(b.trace_id, 'hex')")
        sql = sql.replace(" // ", " / ")
    _, rss, out, _ = run_child([sys.executable, __file__, "--worker", engine, "--data", str(data), sql])
    result = json.loads(out)
    rss = result.get("peak_kb") or rss
    return result["elapsed"], rss, sql_answer(case, [tuple(r) for r in result["rows"]]), None, result["open"]


# ---- the run ------------------------------------------------------------------------------

def ensure_binary() -> Path:
    binary = ROOT / "target" / "release" / "traceql"
    print("building the release traceql binary …", file=sys.stderr)
    subprocess.run(["cargo", "build", "--release", "-p", "traceql-cli"], cwd=ROOT, check=True)
    return binary


def ensure_data(binary: Path, data: Path, spans: int, reuse: bool) -> Dict[str, Any]:
    """Generates the data set with `binary` (blocks written by the code measured), or with
    `reuse` keeps one an earlier run generated at the same size (its generation figures then
    are that run's, which the report says)."""
    marker = data / "compare.json"
    if reuse and marker.exists() and json.loads(marker.read_text()).get("spans_requested") == spans:
        return {**json.loads(marker.read_text()), "reused": True}
    if data.exists():
        subprocess.run(["rm", "-rf", str(data)], check=True)
    print(f"generating {spans:,} spans into {data} …", file=sys.stderr)
    started = time.perf_counter()
    _, rss, out, _ = run_child([str(binary), "generate", "--data", str(data), "--spans", str(spans),
                             "--seed", "42", "--start", str(START), "--window", str(WINDOW)])
    elapsed = time.perf_counter() - started
    metas = [json.loads(p.read_text()) for p in data.glob(f"{TENANT}/*/meta.json")]
    info = {
        "spans_requested": spans,
        "spans": sum(m["span_count"] for m in metas),
        "traces": sum(m["trace_count"] for m in metas),
        "blocks": len(metas),
        "bytes": sum(m["size_bytes"] for m in metas),
        "generate_seconds": elapsed,
        "generate_rss_kb": rss,
    }
    marker.write_text(json.dumps(info))
    return info


def dedicated_columns(data: Path) -> List[str]:
    """The dedicated attribute columns (`span.…`, `resource.…`) of the data set's files."""
    import duckdb

    files = str(data / TENANT / "*" / "data.parquet")
    rows = duckdb.connect().execute(
        f"DESCRIBE SELECT * FROM read_parquet('{files}', union_by_name=true)").fetchall()
    return [r[0] for r in rows if r[0].startswith(("span.", "resource."))]


def machine() -> Dict[str, Any]:
    mem = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) // 1024
    except OSError:
        pass
    return {"cores": os.cpu_count(), "memory_mib": mem, "platform": platform.platform()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=10_000_000, help="spans to generate")
    parser.add_argument("--runs", type=int, default=3, help="runs per query and engine")
    parser.add_argument("--reuse-data", action="store_true",
                        help="keep a data set an earlier run generated at this size instead of "
                             "generating it again (faster; its blocks and generation figures are "
                             "that run's)")
    parser.add_argument("--data", type=Path, default=ROOT / "target" / "compare-data")
    parser.add_argument("--out", type=Path, default=ROOT / "benches")
    parser.add_argument("--worker", choices=["duckdb", "datafusion"], help=argparse.SUPPRESS)
    parser.add_argument("sql", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        sql_worker(args.worker, args.data, args.sql)
        return

    binary = ensure_binary()
    info = ensure_data(binary, args.data, args.spans, args.reuse_data)
    dedicated = dedicated_columns(args.data)
    for case in CASES:
        if case.sql == COMPARE_SQL:
            case.sql = compare_sql(dedicated)
    engines = {
        "traceql": lambda case: traceql_run(binary, args.data, case),
        "duckdb": lambda case: sql_run("duckdb", args.data, case),
        "datafusion": lambda case: sql_run("datafusion", args.data, case),
    }
    results: List[Dict[str, Any]] = []
    for case in CASES:
        measured = {name: Measured() for name in engines}
        for name, run in engines.items():
            m = measured[name]
            try:
                for _ in range(args.runs):
                    elapsed, rss, answer, process, opened = run(case)
                    m.times.append(elapsed)
                    if process is not None:
                        m.process_times.append(process)
                    if opened is not None:
                        m.open_times.append(opened)
                    m.rss_kb = max(m.rss_kb, rss)
                    m.answer = answer
            except Exception as e:  # an engine failing a query is a result too
                m.error = str(e)
        answers = {name: m.answer for name, m in measured.items() if m.error is None}
        same = len(answers) == len(engines) and same_answers(case, answers)
        row = {
            "name": case.name,
            "kind": case.kind,
            "traceql": case.traceql,
            "same_answer": same,
            "compared": compared_as(case),
            "answer_size": len(answers.get("traceql", [])),
            "engines": {
                name: {
                    "median_s": m.median,
                    "times_s": m.times,
                    "process_median_s": m.process_median,
                    "open_median_s": m.open_median,
                    "peak_rss_mib": round(m.rss_kb / 1024, 1),
                    "spans_per_s": info["spans"] / m.median if m.times else None,
                    "error": m.error,
                }
                for name, m in measured.items()
            },
        }
        results.append(row)
        print(f"{case.name:22s} same={same} " + "  ".join(
            f"{n}={row['engines'][n]['median_s']:.3f}s" for n in engines), file=sys.stderr)
    report = {"machine": machine(), "data": info, "runs": args.runs, "results": results}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "RESULTS.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "RESULTS.md").write_text(markdown(report))
    chart(report, args.out / "RESULTS.png")


def markdown(report: Dict[str, Any]) -> str:
    m, d = report["machine"], report["data"]
    lines = [
        "# traceql vs DuckDB vs DataFusion SQL",
        "",
        "Written by `benches/compare/compare.py`; every figure below comes from one run of it"
        + (", but for the data set, which an earlier run generated (`--reuse-data`)."
           if d.get("reused") else "."),
        "",
        f"- Machine: {m['cores']} cores, {m['memory_mib']:,} MiB memory ({m['platform']}).",
        f"- Data: the synthetic shop, {d['spans']:,} spans in {d['traces']:,} traces, {d['blocks']} blocks, "
        f"{d['bytes'] / d['spans']:.1f} bytes per span on disk.",
        f"- Generation + writing: {d['spans'] / d['generate_seconds']:,.0f} spans/s "
        f"(peak memory {d['generate_rss_kb'] / 1024:,.0f} MiB).",
        f"- Each query ran {report['runs']} times per engine, each time in a fresh process; medians shown. "
        "Every engine is timed around its query inside its own process: traceql from opening the "
        "blocks (listing them, reading their meta.json and the footers of the blocks whose recorded "
        "values admit a match) to the finished response (`--timing`), DuckDB "
        "and DataFusion around the SQL query once the files are registered. Registering them (which "
        "reads the footers) took the time in parentheses before the SQL engines' clocks started; it "
        "is not counted in their times or in the ratios. traceql's whole process (start, the query, "
        "the JSON output, exit) is shown too. "
        "Ratios (on the query times) above 1 mean traceql is faster. "
        "traceql spans/s is the data set's size over the time, though a search that stops early reads less.",
        "",
        "| query | same answer | traceql | traceql process | DuckDB | DataFusion SQL | traceql spans/s | "
        "DuckDB / traceql | DataFusion / traceql | peak MiB (traceql / DuckDB / DataFusion) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["results"]:
        e = r["engines"]

        def cell(name: str) -> str:
            if e[name]["error"]:
                return "error"
            opened = e[name].get("open_median_s")
            share = "" if opened is None else f" (+{opened * 1000:,.0f})"
            return f"{e[name]['median_s'] * 1000:,.0f} ms{share}"

        def ratio(name: str) -> str:
            if e[name]["error"] or e["traceql"]["error"]:
                return "–"
            return f"{e[name]['median_s'] / e['traceql']['median_s']:.2f}"

        sps = e["traceql"]["spans_per_s"]
        process = e["traceql"].get("process_median_s")
        process_cell = "–" if process is None else f"{process * 1000:,.0f} ms"
        query = r["traceql"].replace("|", "\\|")  # a pipe would end the table cell
        lines.append(
            f"| `{query}` | {same_cell(r)} | {cell('traceql')} | "
            f"{process_cell} | {cell('duckdb')} | {cell('datafusion')} | {sps / 1e6:,.1f} M | {ratio('duckdb')} | "
            f"{ratio('datafusion')} | {e['traceql']['peak_rss_mib']:,.0f} / {e['duckdb']['peak_rss_mib']:,.0f} / "
            f"{e['datafusion']['peak_rss_mib']:,.0f} |"
        )
    errors = [(r["name"], n, e["error"]) for r in report["results"] for n, e in r["engines"].items() if e["error"]]
    if errors:
        lines += ["", "Errors:", ""] + [f"- {q} on {n}: {msg[:300]}" for q, n, msg in errors]
    return "\n".join(lines) + "\n"


def same_cell(row: Dict[str, Any]) -> str:
    """The "same answer" cell of a result row, saying how the answers were compared."""
    same = "yes" if row["same_answer"] else "**no**"
    return f"{same} ({row['compared']})" if row.get("compared") else same


def chart(report: Dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["name"] for r in report["results"]]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.38
    for i, engine in enumerate(["duckdb", "datafusion"]):
        ratios = []
        for r in report["results"]:
            e = r["engines"]
            ok = not e[engine]["error"] and not e["traceql"]["error"]
            ratios.append(e[engine]["median_s"] / e["traceql"]["median_s"] if ok else 0)
        ax.bar([x + (i - 0.5) * width for x in range(len(names))], ratios, width,
               label=f"{'DuckDB' if engine == 'duckdb' else 'DataFusion SQL'} time / traceql time")
    ax.axhline(1, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=20, ha="right")
    ax.set_ylabel("ratio (log scale; above 1: traceql faster)")
    ax.set_title(f"{report['data']['spans']:,} spans, {report['machine']['cores']} cores")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
