"""Shared fixtures: the repository's test data ingested into temporary block folders."""

from __future__ import annotations

import pathlib

import pytest

import traceql

TESTDATA = pathlib.Path(__file__).resolve().parents[3] / "testdata"

#: Generated shop traces start here (the generator's default start) and spread over one hour.
GENERATED_START = 1_700_000_000
GENERATED_TRACES = 300


@pytest.fixture(scope="session")
def every_field(tmp_path_factory: pytest.TempPathFactory) -> traceql.Engine:
    """testdata/otlp/every_field.json as one block."""
    url = str(tmp_path_factory.mktemp("every_field"))
    traceql.ingest(url, [TESTDATA / "otlp" / "every_field.json"])
    return traceql.open(url)


@pytest.fixture(scope="session")
def shop(tmp_path_factory: pytest.TempPathFactory) -> traceql.Engine:
    """A few hundred generated shop traces in two blocks."""
    url = str(tmp_path_factory.mktemp("shop"))
    traceql.generate(url, traces=GENERATED_TRACES, seed=7, block_traces=200)
    return traceql.open(url)
