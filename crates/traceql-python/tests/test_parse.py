"""traceql.parse and the exception classes."""

from __future__ import annotations

import pytest

import traceql


def test_canonical_text() -> None:
    assert traceql.parse("{span.http.status_code>=500}|count()>2") == (
        "{ span.http.status_code >= 500 }|count() > 2"
    )


@pytest.mark.parametrize(
    ("query", "error", "line", "column"),
    [
        ("{ .a = }", traceql.ParseError, 1, 8),
        ("{ }\n| rate( ", traceql.ParseError, 2, 3),
        ('{ status = "error" }', traceql.ValidationError, 1, 3),
        ("{ .a =~ \"(\" }", traceql.ValidationError, None, None),
    ],
)
def test_errors_carry_class_and_position(query, error, line, column) -> None:
    with pytest.raises(error) as raised:
        traceql.parse(query)
    e = raised.value
    assert isinstance(e, traceql.TraceQLError)
    assert e.message and e.message in str(e)
    if line is not None:
        assert (e.line, e.column) == (line, column)
    else:
        assert e.line >= 1 and e.column >= 1


def test_unsupported_features_have_their_own_class() -> None:
    with pytest.raises(traceql.UnsupportedError):
        traceql.parse("{ parent.http.route = \"/\" }")


def test_exception_hierarchy() -> None:
    for cls in (traceql.ParseError, traceql.ValidationError, traceql.UnsupportedError,
                traceql.QueryError, traceql.DataError, traceql.InvalidRequestError,
                traceql.MemoryLimitError):
        assert issubclass(cls, traceql.TraceQLError)
    assert issubclass(traceql.MemoryLimitError, traceql.QueryError)


def test_wrong_argument_type_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        traceql.parse(42)  # type: ignore[arg-type]
