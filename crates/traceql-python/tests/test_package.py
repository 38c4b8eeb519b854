"""The package's public surface: stubs, markers and docstrings."""

from __future__ import annotations

import ast
import inspect
import pathlib

import traceql

PACKAGE = pathlib.Path(traceql.__file__).resolve().parent


def stub_names() -> dict:
    tree = ast.parse((PACKAGE / "__init__.pyi").read_text())
    names: dict = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            members = {n.name for n in getattr(node, "body", []) if isinstance(n, ast.FunctionDef)}
            names[node.name] = members
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                names[alias.asname or alias.name] = set()
        elif isinstance(node, (ast.AnnAssign, ast.Assign)):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            for t in targets:
                if isinstance(t, ast.Name):
                    names[t.id] = set()
    return names


def test_typed_marker_and_stubs_are_shipped() -> None:
    assert (PACKAGE / "py.typed").exists()
    assert (PACKAGE / "__init__.pyi").exists()


def test_stubs_cover_the_public_api() -> None:
    stubs = stub_names()
    for name in traceql.__all__:
        assert name in stubs, f"{name} is missing from __init__.pyi"
    for cls in (traceql.Engine, traceql.SearchResult, traceql.MetricsResult):
        public = {n for n, _ in inspect.getmembers(cls) if not n.startswith("_")}
        assert public <= stubs[cls.__name__] | {"instant"}, public - stubs[cls.__name__]


def test_everything_public_has_a_docstring() -> None:
    for name in traceql.__all__:
        obj = getattr(traceql, name)
        if callable(obj):
            assert inspect.getdoc(obj), f"{name} has no docstring"
    for cls in (traceql.Engine, traceql.SearchResult, traceql.MetricsResult):
        for member, value in inspect.getmembers(cls):
            if not member.startswith("_"):
                assert inspect.getdoc(value), f"{cls.__name__}.{member} has no docstring"
