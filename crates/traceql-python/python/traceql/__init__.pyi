"""Type stubs of the traceql package."""

import datetime
import os
from typing import Any, Dict, Iterable, List, Optional, Union

import pandas
import pyarrow

from ._errors import (
    DataError as DataError,
    InvalidRequestError as InvalidRequestError,
    MemoryLimitError as MemoryLimitError,
    ParseError as ParseError,
    QueryError as QueryError,
    TraceQLError as TraceQLError,
    UnsupportedError as UnsupportedError,
    ValidationError as ValidationError,
)

DEFAULT_TENANT: str

Time = Union[datetime.datetime, int, float, str]
Step = Union[datetime.timedelta, int, float, str]
PathLike = Union[str, os.PathLike[str]]

def parse(query: str) -> str:
    """Parse and validate ``query``; return its canonical text."""

def open(url: str, tenant: str = ..., memory_limit: Optional[int] = ...) -> Engine:
    """Open the span blocks at ``url`` for ``tenant``."""

def ingest(url: str, paths: Union[PathLike, Iterable[PathLike]], tenant: str = ...) -> Dict[str, Any]:
    """Ingest OTLP files into one new block; return the block's metadata."""

def generate(
    url: str,
    traces: int = ...,
    seed: int = ...,
    tenant: str = ...,
    start: Optional[Time] = ...,
    window: Step = ...,
    block_traces: int = ...,
) -> List[Dict[str, Any]]:
    """Write synthetic shop traces; return the written blocks' metadata."""

class Engine:
    """Queries over the blocks of one tenant at one storage location."""

    def __init__(self, url: str, tenant: str = ..., memory_limit: Optional[int] = ...) -> None: ...
    @property
    def url(self) -> str:
        """The storage URL."""
    @property
    def tenant(self) -> str:
        """The tenant."""
    def search(
        self,
        query: str,
        *,
        start: Optional[Time] = ...,
        end: Optional[Time] = ...,
        limit: int = ...,
        spss: int = ...,
        timeout: Optional[float] = ...,
    ) -> SearchResult:
        """Run a TraceQL search."""
    def metrics(
        self,
        query: str,
        *,
        start: Time,
        end: Time,
        step: Optional[Step] = ...,
        instant: bool = ...,
        exemplars: int = ...,
        timeout: Optional[float] = ...,
    ) -> MetricsResult:
        """Run a TraceQL metrics query."""
    def trace(self, trace_id: str) -> Optional[Dict[str, Any]]:
        """One trace by ID as OTLP/JSON, or ``None``."""
    def tags(self, scope: Optional[str] = ...) -> Dict[str, List[str]]:
        """Attribute names per scope."""
    def tag_values(self, tag: str, query: Optional[str] = ...) -> List[Dict[str, str]]:
        """Values of one tag, each as ``{"type", "value"}``."""

class SearchResult:
    """What a search returned."""

    @property
    def traces(self) -> List[Dict[str, Any]]:
        """Matching traces in Tempo's search response shape."""
    @property
    def metrics(self) -> Dict[str, Any]:
        """Inspection figures."""
    @property
    def json(self) -> str:
        """Tempo's search response JSON."""
    def to_arrow(self) -> pyarrow.Table:
        """One row per returned span."""
    def to_pandas(self) -> pandas.DataFrame:
        """``to_arrow()`` as a pandas DataFrame."""
    def __len__(self) -> int: ...

class MetricsResult:
    """What a metrics query returned."""

    instant: bool
    @property
    def series(self) -> List[Dict[str, Any]]:
        """Series in Tempo's shape."""
    @property
    def metrics(self) -> Dict[str, Any]:
        """Inspection figures."""
    @property
    def status(self) -> Optional[str]:
        """``"PARTIAL"`` when the series limit cut the result."""
    @property
    def message(self) -> Optional[str]:
        """Why the result is partial."""
    @property
    def json(self) -> str:
        """Tempo's response JSON."""
    def to_arrow(self) -> pyarrow.Table:
        """Long format: label columns, ``timestamp``, ``value``."""
    def to_pandas(self) -> pandas.DataFrame:
        """``to_arrow()`` as a pandas DataFrame."""
    def __len__(self) -> int: ...
