//! Benchmarks for traceql.
