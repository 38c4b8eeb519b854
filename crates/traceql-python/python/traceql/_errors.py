"""The exceptions traceql raises."""

from __future__ import annotations

from typing import Optional


class TraceQLError(Exception):
    """Base class of every traceql error.

    ``message`` is the error without position; ``line`` and ``column`` (1-based) point into the
    query for query errors and are ``None`` otherwise.
    """

    def __init__(self, message: str, line: Optional[int] = None, column: Optional[int] = None):
        self.message = message
        self.line = line
        self.column = column
        where = f" at line {line}, column {column}" if line is not None else ""
        super().__init__(f"{message}{where}")


class ParseError(TraceQLError):
    """The query does not follow TraceQL's grammar."""


class ValidationError(TraceQLError):
    """The query parses but is rejected by static checks (types, regular expressions, ...)."""


class UnsupportedError(TraceQLError):
    """The query uses a feature TraceQL reserves but does not run."""


class QueryError(TraceQLError):
    """The query failed while running (for example integer division by zero)."""


class MemoryLimitError(QueryError):
    """The query would hold more memory than the engine's ``memory_limit``."""


class DataError(TraceQLError):
    """Blocks or input files could not be read or written (bad URL, corrupt block, ...)."""


class InvalidRequestError(TraceQLError):
    """A request argument is out of range (limit, time range, step, ...)."""
