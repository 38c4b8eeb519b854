"""TraceQL, Grafana Tempo's trace query language, over Parquet span blocks.

>>> import traceql
>>> traceql.parse('{ span.http.status_code >= 500 } | count() > 2')
'{ span.http.status_code >= 500 }|count() > 2'

Open a storage location with :func:`open`, then search it or run metrics over it::

    engine = traceql.open("/data/blocks")
    result = engine.search('{ resource.service.name = "checkout" } >> { status = error }')
    result.to_pandas()

Queries run with the GIL released, and Ctrl-C (KeyboardInterrupt) cancels them.
"""

from __future__ import annotations

import datetime as _dt
import json as _json
import os as _os
import re as _re
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Union

from . import _traceql
from ._errors import (
    DataError,
    InvalidRequestError,
    MemoryLimitError,
    ParseError,
    QueryError,
    TraceQLError,
    UnsupportedError,
    ValidationError,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas
    import pyarrow

__all__ = [
    "DEFAULT_TENANT",
    "DataError",
    "Engine",
    "InvalidRequestError",
    "MemoryLimitError",
    "MetricsResult",
    "ParseError",
    "QueryError",
    "SearchResult",
    "TraceQLError",
    "UnsupportedError",
    "ValidationError",
    "generate",
    "ingest",
    "open",
    "parse",
]

#: The tenant used when none is given (Tempo's single-tenant mode).
DEFAULT_TENANT = "single-tenant"

#: A point in time: a ``datetime`` (naive means UTC), unix seconds, or a string holding either
#: unix seconds or an ISO 8601 / RFC 3339 timestamp.
Time = Union[_dt.datetime, int, float, str]

#: A step: a ``timedelta``, seconds, or a string such as ``"30s"``, ``"5m"``, ``"500ms"``.
Step = Union[_dt.timedelta, int, float, str]

_NANOS = 1_000_000_000
_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": _NANOS,
          "m": 60 * _NANOS, "h": 3600 * _NANOS, "d": 86400 * _NANOS}


def parse(query: str) -> str:
    """Parse and validate ``query``; return its canonical text.

    Raises :class:`ParseError`, :class:`ValidationError` or :class:`UnsupportedError` (with
    ``.line``, ``.column`` and ``.message``) when the query is not valid TraceQL.
    """
    return _traceql.parse(query)


def open(url: str, tenant: str = DEFAULT_TENANT, memory_limit: Optional[int] = None) -> "Engine":
    """Open the span blocks at ``url`` for ``tenant``.

    ``url`` is a folder, ``file://``, ``memory://``, ``s3://bucket/prefix``, ``gs://`` or
    ``az://`` (object stores are configured from the usual environment variables).
    ``memory_limit`` (bytes) bounds what one query may hold in memory: a query that needs more
    fails with :class:`MemoryLimitError` instead of exhausting the machine.
    """
    return Engine(url, tenant=tenant, memory_limit=memory_limit)


def ingest(url: str, paths: Union[str, "_os.PathLike[str]", Iterable[Union[str, "_os.PathLike[str]"]]],
           tenant: str = DEFAULT_TENANT) -> Dict[str, Any]:
    """Ingest OTLP files into one new block at ``url``; return the block's metadata.

    Files may be OTLP protobuf (``.pb``, ``.binpb``), OTLP/JSON (``.json``, ``.jsonl``) or
    Tempo's trace JSON. Nothing is written if any file fails to decode (:class:`DataError`).
    """
    if isinstance(paths, (str, _os.PathLike)):
        paths = [paths]
    files = [_os.fspath(p) for p in paths]
    return _json.loads(_traceql.ingest(url, files, tenant))


def generate(url: str, traces: int = 1000, seed: int = 42, tenant: str = DEFAULT_TENANT,
             start: Optional[Time] = None, window: Step = 3600,
             block_traces: int = 100_000) -> List[Dict[str, Any]]:
    """Write ``traces`` synthetic traces of a microservice shop to ``url``.

    The same ``seed`` gives the same traces. Trace starts are spread over
    ``[start, start + window)``; ``start`` defaults to 2023-11-14T22:13:20Z so that generated
    data sets are reproducible. Blocks hold at most ``block_traces`` traces. Returns the
    metadata of the written blocks.
    """
    if traces < 0 or block_traces < 1:
        raise InvalidRequestError("traces must be >= 0 and block_traces >= 1")
    start_ns = 1_700_000_000 * _NANOS if start is None else _unix_nanos(start)
    return _json.loads(_traceql.generate(url, traces, seed, tenant, start_ns,
                                         _step_nanos(window), block_traces))


def _timeout(seconds: Optional[float]) -> Optional[float]:
    """A query timeout in seconds, checked: positive and finite, or ``None`` for none."""
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise InvalidRequestError("timeout must be a number of seconds")
    if not 0 < seconds < float("inf"):
        raise InvalidRequestError("timeout must be a positive, finite number of seconds")
    return float(seconds)


class Engine:
    """Queries over the blocks of one tenant at one storage location (see :func:`open`)."""

    def __init__(self, url: str, tenant: str = DEFAULT_TENANT,
                 memory_limit: Optional[int] = None) -> None:
        if memory_limit is not None and memory_limit <= 0:
            raise InvalidRequestError("memory_limit must be a positive number of bytes")
        self._native = _traceql.Engine(url, tenant, memory_limit)

    @property
    def url(self) -> str:
        """The storage URL."""
        return self._native.url

    @property
    def tenant(self) -> str:
        """The tenant."""
        return self._native.tenant

    def __repr__(self) -> str:
        return f"traceql.Engine({self.url!r}, tenant={self.tenant!r})"

    def search(self, query: str, *, start: Optional[Time] = None, end: Optional[Time] = None,
               limit: int = 20, spss: int = 3,
               timeout: Optional[float] = None) -> "SearchResult":
        """Run a TraceQL search: the newest ``limit`` matching traces, ``spss`` spans per spanset.

        ``start`` and ``end`` (both or neither) restrict the traces to that time range. A query
        still running after ``timeout`` seconds stops with :class:`QueryError`.
        """
        if (start is None) != (end is None):
            raise InvalidRequestError("give both start and end, or neither")
        start_s = None if start is None else _unix_nanos(start) // _NANOS
        end_s = None if end is None else -(-_unix_nanos(end) // _NANOS)
        if limit < 0 or spss < 0:
            raise InvalidRequestError("limit and spss must not be negative")
        return SearchResult(self._native.search(query, start_s, end_s, limit, spss,
                                                _timeout(timeout)))

    def metrics(self, query: str, *, start: Time, end: Time, step: Optional[Step] = None,
                instant: bool = False, exemplars: int = 100,
                timeout: Optional[float] = None) -> "MetricsResult":
        """Run a TraceQL metrics query over ``(start, end]``.

        ``step`` defaults from the range as Tempo's does; ``instant=True`` gives one value per
        series for the whole range. Up to ``exemplars`` exemplars per series (range queries).
        A query still running after ``timeout`` seconds stops with :class:`QueryError`.
        """
        if exemplars < 0:
            raise InvalidRequestError("exemplars must not be negative")
        step_ns = None if step is None else _step_nanos(step)
        return MetricsResult(self._native.metrics(query, _unix_nanos(start), _unix_nanos(end),
                                                  step_ns, instant, exemplars,
                                                  _timeout(timeout)), instant)

    def trace(self, trace_id: str) -> Optional[Dict[str, Any]]:
        """One trace by its hex ID as OTLP/JSON (``{"trace": {"resourceSpans": [...]}}``), or
        ``None`` when no block holds it."""
        found = self._native.trace(trace_id)
        return None if found is None else _json.loads(found)

    def tags(self, scope: Optional[str] = None) -> Dict[str, List[str]]:
        """Attribute names per scope (``resource``, ``span``, ``event``, ``link``,
        ``instrumentation``, ``intrinsic``), or only those of ``scope``."""
        names = _json.loads(self._native.tags(scope))
        return {s["name"]: s["tags"] for s in names["scopes"]}

    def tag_values(self, tag: str, query: Optional[str] = None) -> List[Dict[str, str]]:
        """Values of ``tag`` (for example ``"span.http.route"``), each as ``{"type", "value"}``;
        with ``query`` (``"{ ... }"``), only values of spans it matches."""
        return _json.loads(self._native.tag_values(tag, query))["tagValues"]


class SearchResult:
    """What a search returned: Tempo's search response, and tabular views of it."""

    def __init__(self, native: Any) -> None:
        self._native = native
        self._response: Dict[str, Any] = _json.loads(native.json())

    @property
    def traces(self) -> List[Dict[str, Any]]:
        """Matching traces in Tempo's search response shape (``traceID``, ``rootServiceName``,
        ``spanSets``, ...)."""
        return self._response.get("traces", [])

    @property
    def metrics(self) -> Dict[str, Any]:
        """Inspection figures (``inspectedTraces``, ``inspectedSpans``, ``inspectedBytes``, ...)."""
        return self._response.get("metrics", {})

    @property
    def json(self) -> str:
        """Tempo's search response JSON, byte for byte."""
        return self._native.json()

    def to_arrow(self) -> "pyarrow.Table":
        """One row per returned span: ``trace_id``, ``root_service_name``, ``root_trace_name``,
        ``spanset``, ``matched``, ``span_id``, ``span_name``, ``service_name``, ``start_time``
        (timestamp, UTC), ``duration``, ``status``, then a column per spanset attribute and per
        span attribute the query referenced or selected."""
        return self._native.to_arrow()

    def to_pandas(self) -> "pandas.DataFrame":
        """:meth:`to_arrow` as a pandas DataFrame (needs pandas)."""
        return self.to_arrow().to_pandas()

    def __len__(self) -> int:
        return len(self.traces)

    def __repr__(self) -> str:
        return f"<traceql.SearchResult: {len(self)} trace(s)>"


class MetricsResult:
    """What a metrics query returned: Tempo's query_range (or instant) response, and a table."""

    def __init__(self, native: Any, instant: bool) -> None:
        self._native = native
        self.instant = instant
        self._response: Dict[str, Any] = _json.loads(native.json())

    @property
    def series(self) -> List[Dict[str, Any]]:
        """Series in Tempo's shape: ``labels`` and ``samples`` (range) or ``value`` (instant)."""
        return self._response.get("series", [])

    @property
    def metrics(self) -> Dict[str, Any]:
        """Inspection figures."""
        return self._response.get("metrics", {})

    @property
    def status(self) -> Optional[str]:
        """``"PARTIAL"`` when the series limit cut the result, else ``None``."""
        return self._response.get("status")

    @property
    def message(self) -> Optional[str]:
        """Why the result is partial, if it is."""
        return self._response.get("message")

    @property
    def json(self) -> str:
        """Tempo's response JSON, byte for byte."""
        return self._native.json()

    def to_arrow(self) -> "pyarrow.Table":
        """Long format: one column per label, then ``timestamp`` (UTC, milliseconds) and
        ``value``; one row per point with a value."""
        return self._native.to_arrow()

    def to_pandas(self) -> "pandas.DataFrame":
        """:meth:`to_arrow` as a pandas DataFrame (needs pandas)."""
        return self.to_arrow().to_pandas()

    def __len__(self) -> int:
        return len(self.series)

    def __repr__(self) -> str:
        return f"<traceql.MetricsResult: {len(self)} series>"


def _unix_nanos(value: Time) -> int:
    """``value`` as unix nanoseconds."""
    if isinstance(value, bool):
        raise TypeError("a time cannot be a bool")
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        delta = value - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
        nanos = (delta.days * 86400 + delta.seconds) * _NANOS + delta.microseconds * 1000
    elif isinstance(value, int):
        nanos = value * _NANOS
    elif isinstance(value, float):
        nanos = round(value * _NANOS)
    elif isinstance(value, str):
        text = value.strip()
        try:
            return _unix_nanos(float(text) if _re.fullmatch(r"[0-9]*\.[0-9]*", text) else int(text))
        except ValueError:
            pass
        try:
            parsed = _dt.datetime.fromisoformat(_re.sub(r"[zZ]$", "+00:00", text))
        except ValueError:
            raise InvalidRequestError(
                f"invalid time {value!r}: use unix seconds or RFC 3339 (2024-01-02T03:04:05Z)"
            ) from None
        return _unix_nanos(parsed)
    else:
        raise TypeError(f"a time must be a datetime, unix seconds or a string, not {type(value).__name__}")
    if nanos < 0:
        raise InvalidRequestError(f"time {value!r} is before 1970")
    return nanos


def _step_nanos(value: Step) -> int:
    """``value`` as nanoseconds."""
    if isinstance(value, bool):
        raise TypeError("a step cannot be a bool")
    if isinstance(value, _dt.timedelta):
        nanos = (value.days * 86400 + value.seconds) * _NANOS + value.microseconds * 1000
    elif isinstance(value, (int, float)):
        nanos = round(value * _NANOS)
    elif isinstance(value, str):
        parts = _re.findall(r"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h|d)", value.strip())
        if not parts or "".join(n + u for n, u in parts) != value.strip():
            try:
                return _step_nanos(float(value))
            except ValueError:
                raise InvalidRequestError(
                    f"invalid step {value!r}: use a duration such as 30s, 5m or 1h30m"
                ) from None
        nanos = sum(round(float(n) * _UNITS[u]) for n, u in parts)
    else:
        raise TypeError(f"a step must be a timedelta, seconds or a string, not {type(value).__name__}")
    if nanos <= 0:
        raise InvalidRequestError(f"step {value!r} must be positive")
    return nanos


