//! The `query_range` and instant response shapes (spec sections 8.4 and 8.5).

use serde::{Serialize, Serializer};

use super::{Label, MetricsResult};
use crate::response::{AnyValue, KeyValue};

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

fn is_zero_f64(v: &f64) -> bool {
    *v == 0.0
}

fn as_string<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

fn go_double<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        s.serialize_i64(*v as i64)
    } else {
        s.serialize_f64(*v)
    }
}

/// What a metrics query read.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricsQueryMetrics {
    /// Bytes of the blocks read.
    #[serde(serialize_with = "as_string", skip_serializing_if = "is_zero_u64")]
    pub inspected_bytes: u64,
    /// Blocks to read.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub total_jobs: u32,
    /// Blocks read.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub completed_jobs: u32,
    /// Blocks in the range.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub total_blocks: u32,
    /// Bytes of the blocks in the range.
    #[serde(serialize_with = "as_string", skip_serializing_if = "is_zero_u64")]
    pub total_block_bytes: u64,
    /// Spans evaluated.
    #[serde(serialize_with = "as_string", skip_serializing_if = "is_zero_u64")]
    pub inspected_spans: u64,
}

/// One point.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    /// Unix milliseconds.
    #[serde(serialize_with = "as_string")]
    pub timestamp_ms: u64,
    /// The value (omitted when 0).
    #[serde(serialize_with = "go_double", skip_serializing_if = "is_zero_f64")]
    pub value: f64,
}

/// An exemplar of a range response.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExemplarSample {
    /// The span's labels (`trace:id`, `span:id` …).
    pub labels: Vec<KeyValue>,
    /// The value (omitted when 0).
    #[serde(serialize_with = "go_double", skip_serializing_if = "is_zero_f64")]
    pub value: f64,
    /// The span's start, unix milliseconds.
    #[serde(serialize_with = "as_string")]
    pub timestamp_ms: u64,
}

/// One series of a range response.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimeSeries {
    /// Labels.
    pub labels: Vec<KeyValue>,
    /// Points, by time; intervals without a value are left out.
    pub samples: Vec<Sample>,
    /// Example spans, by time (left out when there are none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exemplars: Vec<ExemplarSample>,
}

/// `GET /api/metrics/query_range`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RangeResponse {
    /// Series, sorted.
    pub series: Vec<TimeSeries>,
    /// What was read.
    pub metrics: MetricsQueryMetrics,
    /// `PARTIAL` when the series limit cut the result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Why the response is partial.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// One series of an instant response.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InstantSeries {
    /// Labels.
    pub labels: Vec<KeyValue>,
    /// The value over the whole range (omitted when 0).
    #[serde(serialize_with = "go_double", skip_serializing_if = "is_zero_f64")]
    pub value: f64,
}

/// `GET /api/metrics/query`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InstantResponse {
    /// Series, sorted.
    pub series: Vec<InstantSeries>,
    /// What was read.
    pub metrics: MetricsQueryMetrics,
    /// `PARTIAL` when the series limit cut the result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Why the response is partial.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

fn labels(labels: &[Label]) -> Vec<KeyValue> {
    labels
        .iter()
        .filter_map(|l| {
            Some(KeyValue {
                key: l.key.clone(),
                value: AnyValue::from_val(&l.value)?,
            })
        })
        .collect()
}

fn partial(result: &MetricsResult) -> (Option<String>, Option<String>) {
    if result.partial {
        (
            Some("PARTIAL".into()),
            Some(format!(
                "Response exceeds maximum series limit of {}: some series were left out",
                result.series.len()
            )),
        )
    } else {
        (None, None)
    }
}

impl MetricsResult {
    /// The range response.
    pub fn to_range(&self) -> RangeResponse {
        let (status, message) = partial(self);
        RangeResponse {
            series: self
                .series
                .iter()
                .map(|s| TimeSeries {
                    labels: labels(&s.labels),
                    samples: s
                        .values
                        .iter()
                        .enumerate()
                        .filter(|(_, v)| !v.is_nan())
                        .map(|(i, v)| Sample {
                            timestamp_ms: self.intervals.timestamp(i) / 1_000_000,
                            value: *v,
                        })
                        .collect(),
                    exemplars: s
                        .exemplars
                        .iter()
                        .map(|e| ExemplarSample {
                            labels: labels(&e.labels),
                            value: e.value,
                            timestamp_ms: e.timestamp_ms,
                        })
                        .collect(),
                })
                .collect(),
            metrics: self.metrics.clone(),
            status,
            message,
        }
    }

    /// The instant response (one value per series).
    pub fn to_instant(&self) -> InstantResponse {
        let (status, message) = partial(self);
        InstantResponse {
            series: self
                .series
                .iter()
                .filter_map(|s| {
                    let v = *s.values.first()?;
                    (!v.is_nan()).then(|| InstantSeries {
                        labels: labels(&s.labels),
                        value: v,
                    })
                })
                .collect(),
            metrics: self.metrics.clone(),
            status,
            message,
        }
    }
}
