//! A realistic synthetic trace generator: "the shop", an online store of a dozen services.
//!
//! Every trace is one user request entering `frontend` over HTTP and fanning out over gRPC to
//! the catalog, cart, recommendation, ad, currency, checkout, shipping, payment and email
//! services, down to PostgreSQL and Redis client spans; orders are published to Kafka and
//! consumed by `accounting` and `fraud-detection`, whose consumer spans link back to the
//! producer. Spans carry the semantic-convention attributes real services emit (HTTP, RPC, DB,
//! messaging, Kubernetes), application attributes of every type (strings, ints, doubles,
//! booleans, string arrays), exception events on errors, and a few percent of failures.
//!
//! Generation is deterministic: trace `i` depends only on the seed and `i`, so traces can be
//! generated in parallel and in chunks.

use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::{Rng, RngCore, SeedableRng};

use crate::model::{
    Event, KeyValue, Link, Resource, Scope, Span, SpanId, SpanKind, StatusCode, Trace, TraceId,
    Value,
};

/// What to generate.
#[derive(Clone, Debug)]
pub struct GeneratorConfig {
    /// Seed: the same seed gives the same traces.
    pub seed: u64,
    /// Trace start times are spread over `[start_unix_nano, start_unix_nano + window_nanos)`.
    pub start_unix_nano: u64,
    /// Width of the time window.
    pub window_nanos: u64,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            seed: 42,
            start_unix_nano: 1_700_000_000_000_000_000,
            window_nanos: 3_600_000_000_000,
        }
    }
}

const MS: u64 = 1_000_000;

/// The services of the shop, with their language and version.
const SERVICES: &[(&str, &str, &str)] = &[
    ("frontend", "typescript", "2.4.1"),
    ("product-catalog", "go", "1.9.0"),
    ("cart", "dotnet", "3.1.2"),
    ("recommendation", "python", "0.8.5"),
    ("ad", "java", "1.2.0"),
    ("currency", "cpp", "1.0.3"),
    ("checkout", "go", "2.0.0"),
    ("shipping", "rust", "0.5.1"),
    ("payment", "javascript", "1.4.0"),
    ("email", "ruby", "1.1.0"),
    ("accounting", "dotnet", "1.0.0"),
    ("fraud-detection", "kotlin", "0.9.2"),
];

const CLUSTERS: &[&str] = &["prod-eu-west-1", "prod-us-east-1", "prod-ap-south-1"];
const PRODUCTS: &[&str] = &[
    "OLJCESPC7Z",
    "66VCHSJNUP",
    "1YMWWN1N4O",
    "L9ECAV7KIM",
    "2ZYFJ3GM2N",
    "0PUK6V6EV0",
    "LS4PSXUNUM",
    "9SIQT8TOJO",
    "6E92ZMYYFZ",
    "HQTGWGPNH4",
];
const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Mobile/15E148",
    "python-requests/2.32.3",
];

/// Resources and scopes shared by all traces (one resource per service pod).
struct Shop {
    pods: Vec<Vec<Arc<Resource>>>,
    scopes: Vec<Arc<Scope>>,
}

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue::new(key, value)
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

impl Shop {
    fn new() -> Shop {
        let pods = SERVICES
            .iter()
            .enumerate()
            .map(|(si, (name, language, version))| {
                (0..3)
                    .map(|pod| {
                        let cluster = CLUSTERS[(si + pod) % CLUSTERS.len()];
                        Arc::new(Resource {
                            attributes: vec![
                                kv("service.name", s(name)),
                                kv("service.version", s(version)),
                                kv("service.namespace", s("shop")),
                                kv("deployment.environment", s("production")),
                                kv("telemetry.sdk.language", s(language)),
                                kv("k8s.cluster.name", s(cluster)),
                                kv("k8s.namespace.name", s("shop")),
                                kv(
                                    "k8s.pod.name",
                                    s(&format!("{name}-7d9f8b{si:02}{pod}-x{pod}q")),
                                ),
                                kv("k8s.container.name", s(name)),
                                kv("host.name", s(&format!("node-{}", (si * 3 + pod) % 7))),
                                kv("cloud.region", s(&cluster[5..])),
                            ],
                            dropped_attributes_count: 0,
                            schema_url: "https://opentelemetry.io/schemas/1.26.0".to_string(),
                        })
                    })
                    .collect()
            })
            .collect();
        let scopes = [
            ("@opentelemetry/instrumentation-http", "0.52.1"),
            (
                "go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc",
                "0.53.0",
            ),
            ("io.opentelemetry.jdbc", "2.5.0"),
            (
                "OpenTelemetry.Instrumentation.StackExchangeRedis",
                "1.0.0-rc9.15",
            ),
            ("io.opentelemetry.kafka-clients", "2.5.0"),
            ("shop.app", "1.0.0"),
        ]
        .into_iter()
        .map(|(name, version)| {
            Arc::new(Scope {
                name: name.to_string(),
                version: version.to_string(),
                ..Scope::default()
            })
        })
        .collect();
        Shop { pods, scopes }
    }
}

/// Which instrumentation produced a span (an index into the shop's scopes).
#[derive(Clone, Copy)]
enum Lib {
    Http = 0,
    Grpc = 1,
    Sql = 2,
    Redis = 3,
    Kafka = 4,
    App = 5,
}

/// Builds the spans of one trace.
struct TraceBuilder<'a> {
    shop: &'a Shop,
    rng: SmallRng,
    trace_id: TraceId,
    spans: Vec<Span>,
}

impl TraceBuilder<'_> {
    fn id(&mut self) -> SpanId {
        let mut id = [0u8; 8];
        self.rng.fill_bytes(&mut id);
        id[0] |= 1; // never all zeros
        id
    }

    fn service(name: &str) -> usize {
        SERVICES
            .iter()
            .position(|(n, _, _)| *n == name)
            .unwrap_or(0)
    }

    /// A duration around `median` milliseconds, skewed with a long tail.
    fn latency(&mut self, median_ms: f64) -> u64 {
        let u: f64 = self.rng.random_range(0.0001..1.0);
        let tail = (-u.ln()).powf(1.6);
        ((median_ms * tail.max(0.05)) * MS as f64) as u64 + 50_000
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        service: &str,
        lib: Lib,
        parent: Option<SpanId>,
        name: &str,
        kind: SpanKind,
        start: u64,
        duration: u64,
        attributes: Vec<KeyValue>,
    ) -> usize {
        let service = Self::service(service);
        let pod = self.rng.random_range(0..self.shop.pods[service].len());
        let span_id = self.id();
        self.spans.push(Span {
            trace_id: self.trace_id,
            span_id,
            parent_span_id: parent,
            flags: 1,
            name: name.to_string(),
            kind,
            start_time_unix_nano: start,
            end_time_unix_nano: start + duration,
            attributes,
            resource: Arc::clone(&self.shop.pods[service][pod]),
            scope: Arc::clone(&self.shop.scopes[lib as usize]),
            ..Span::default()
        });
        self.spans.len() - 1
    }

    fn fail(&mut self, span: usize, exception: &str, message: &str) {
        let s = &mut self.spans[span];
        s.status_code = StatusCode::Error;
        s.status_message = message.to_string();
        let at = s.start_time_unix_nano + (s.end_time_unix_nano - s.start_time_unix_nano) / 2;
        s.events.push(Event {
            time_unix_nano: at,
            name: "exception".to_string(),
            attributes: vec![
                kv("exception.type", s_val(exception)),
                kv("exception.message", s_val(message)),
            ],
            dropped_attributes_count: 0,
        });
    }

    /// A gRPC call: client span in `from`, server span in `to`; returns (server span, end).
    fn grpc(
        &mut self,
        from: &str,
        to: &str,
        parent: usize,
        method: &str,
        start: u64,
        work_ms: f64,
    ) -> (usize, u64) {
        let rpc_service = format!("oteldemo.{}Service", pascal(to));
        let full = format!("{rpc_service}/{method}");
        let parent_id = self.spans[parent].span_id;
        let server_duration = self.latency(work_ms);
        let client_duration = server_duration + self.latency(0.4);
        let rpc = |code: i64| {
            vec![
                kv("rpc.system", s("grpc")),
                kv("rpc.service", s(&rpc_service)),
                kv("rpc.method", s(method)),
                kv("rpc.grpc.status_code", Value::Int(code)),
            ]
        };
        let client = self.push(
            from,
            Lib::Grpc,
            Some(parent_id),
            &full,
            SpanKind::Client,
            start,
            client_duration,
            rpc(0),
        );
        let client_id = self.spans[client].span_id;
        let server = self.push(
            to,
            Lib::Grpc,
            Some(client_id),
            &full,
            SpanKind::Server,
            start + 150_000,
            server_duration,
            rpc(0),
        );
        (server, start + client_duration)
    }

    fn sql(
        &mut self,
        service: &str,
        parent: usize,
        operation: &str,
        table: &str,
        start: u64,
    ) -> u64 {
        let statement = match operation {
            "SELECT" => format!("SELECT * FROM {table} WHERE id = $1"),
            "INSERT" => format!("INSERT INTO {table} VALUES ($1, $2, $3)"),
            _ => format!("UPDATE {table} SET quantity = $1 WHERE id = $2"),
        };
        let duration = self.latency(2.0);
        let parent_id = self.spans[parent].span_id;
        let attrs = vec![
            kv("db.system", s("postgresql")),
            kv("db.name", s("shop")),
            kv("db.operation", s(operation)),
            kv("db.sql.table", s(table)),
            kv("db.statement", s(&statement)),
            kv("server.address", s("postgres.shop.svc")),
            kv("server.port", Value::Int(5432)),
        ];
        self.push(
            service,
            Lib::Sql,
            Some(parent_id),
            &format!("{operation} shop.{table}"),
            SpanKind::Client,
            start,
            duration,
            attrs,
        );
        start + duration
    }

    fn redis(&mut self, parent: usize, command: &str, start: u64) -> u64 {
        let duration = self.latency(0.3);
        let parent_id = self.spans[parent].span_id;
        let attrs = vec![
            kv("db.system", s("redis")),
            kv("db.operation", s(command)),
            kv(
                "db.statement",
                s(&format!(
                    "{command} cart:{}",
                    self.rng.random_range(1000..9999)
                )),
            ),
            kv("server.address", s("valkey-cart.shop.svc")),
        ];
        let span = self.push(
            "cart",
            Lib::Redis,
            Some(parent_id),
            command,
            SpanKind::Client,
            start,
            duration,
            attrs,
        );
        if command == "HGET" && self.rng.random_bool(0.2) {
            let t = self.spans[span].start_time_unix_nano + duration / 2;
            self.spans[span].events.push(Event {
                time_unix_nano: t,
                name: "cache miss".to_string(),
                ..Event::default()
            });
        }
        start + duration
    }

    fn product(&mut self) -> &'static str {
        PRODUCTS[self.rng.random_range(0..PRODUCTS.len())]
    }

    /// The HTTP request that roots the trace.
    fn request(&mut self, start: u64) {
        let roll: f64 = self.rng.random();
        let (method, route, page) = match roll {
            r if r < 0.35 => ("GET", "/api/products/{productId}", "product"),
            r if r < 0.55 => ("GET", "/", "home"),
            r if r < 0.75 => ("POST", "/api/cart", "add_to_cart"),
            r if r < 0.85 => ("GET", "/api/cart", "view_cart"),
            r if r < 0.97 => ("POST", "/api/checkout", "checkout"),
            _ => ("GET", "/api/recommendations", "recommendations"),
        };
        let product = self.product();
        let path = route.replace("{productId}", product);
        let user = format!("user-{:05}", self.rng.random_range(0..20_000));
        let ua = USER_AGENTS[self.rng.random_range(0..USER_AGENTS.len())];
        let session = self.rng.random_range(0..1_000_000);
        let root = self.push(
            "frontend",
            Lib::Http,
            None,
            &format!("{method} {route}"),
            SpanKind::Server,
            start,
            0,
            vec![
                kv("http.request.method", s(method)),
                kv("http.route", s(route)),
                kv("url.path", s(&path)),
                kv(
                    "http.url",
                    s(&format!("https://shop.example.com{path}?session={session}")),
                ),
                kv("http.response.status_code", Value::Int(200)),
                kv("server.address", s("shop.example.com")),
                kv("user_agent.original", s(ua)),
                kv("app.user.id", s(&user)),
                kv("app.page", s(page)),
            ],
        );
        let mut t = start + self.latency(0.5);
        let mut status = 200;
        match page {
            "product" => {
                let (server, end) =
                    self.grpc("frontend", "product-catalog", root, "GetProduct", t, 3.0);
                let q = self.spans[server].start_time_unix_nano + 100_000;
                self.sql("product-catalog", server, "SELECT", "products", q);
                if self.rng.random_bool(0.02) {
                    self.fail(
                        server,
                        "ProductNotFound",
                        &format!("product {product} not found"),
                    );
                    let attributes = &mut self.spans[server].attributes;
                    if let Some(code) = attributes
                        .iter_mut()
                        .find(|a| a.key == "rpc.grpc.status_code")
                    {
                        code.value = Value::Int(5);
                    }
                    status = 404;
                }
                t = end;
                let (_, end) = self.grpc(
                    "frontend",
                    "recommendation",
                    root,
                    "ListRecommendations",
                    t,
                    6.0,
                );
                let (_, end2) = self.grpc("frontend", "ad", root, "GetAds", t, 2.0);
                t = end.max(end2);
            }
            "home" => {
                let (server, end) =
                    self.grpc("frontend", "product-catalog", root, "ListProducts", t, 4.0);
                let q = self.spans[server].start_time_unix_nano + 100_000;
                self.sql("product-catalog", server, "SELECT", "products", q);
                let (_, end2) = self.grpc(
                    "frontend",
                    "currency",
                    root,
                    "GetSupportedCurrencies",
                    t,
                    0.5,
                );
                let (_, end3) = self.grpc("frontend", "ad", root, "GetAds", t, 2.0);
                t = end.max(end2).max(end3);
            }
            "add_to_cart" | "view_cart" => {
                let method = if page == "add_to_cart" {
                    "AddItem"
                } else {
                    "GetCart"
                };
                let (server, end) = self.grpc("frontend", "cart", root, method, t, 2.0);
                let mut q = self.spans[server].start_time_unix_nano + 50_000;
                q = self.redis(server, "HGET", q);
                if page == "add_to_cart" {
                    self.redis(server, "HSET", q);
                    let items = self.rng.random_range(1..6);
                    self.spans[root]
                        .attributes
                        .push(kv("app.cart.items", Value::Int(items)));
                }
                if self.rng.random_bool(0.01) {
                    self.fail(
                        server,
                        "RedisTimeoutException",
                        "Timeout awaiting response (outbound=0KiB)",
                    );
                    status = 500;
                }
                t = end;
            }
            "checkout" => {
                let (end, failed) = self.checkout(root, t);
                if failed {
                    status = 500;
                }
                t = end;
            }
            _ => {
                let (_, end) = self.grpc(
                    "frontend",
                    "recommendation",
                    root,
                    "ListRecommendations",
                    t,
                    8.0,
                );
                t = end;
            }
        }
        let end = t + self.latency(0.3);
        let r = &mut self.spans[root];
        r.end_time_unix_nano = end;
        if let Some(code) = r
            .attributes
            .iter_mut()
            .find(|a| a.key == "http.response.status_code")
        {
            code.value = Value::Int(status);
        }
        if status >= 500 {
            r.status_code = StatusCode::Error;
        }
    }

    /// The checkout flow; returns its end time and whether it failed.
    fn checkout(&mut self, root: usize, start: u64) -> (u64, bool) {
        let (checkout, _) = self.grpc("frontend", "checkout", root, "PlaceOrder", start, 0.0);
        let mut t = self.spans[checkout].start_time_unix_nano + 100_000;
        let (cart, cart_end) = self.grpc("checkout", "cart", checkout, "GetCart", t, 1.5);
        let q = self.spans[cart].start_time_unix_nano + 50_000;
        self.redis(cart, "HGET", q);
        t = cart_end;
        let items = self.rng.random_range(1..5);
        let mut ids = Vec::new();
        for _ in 0..items {
            let product = self.product();
            ids.push(Value::String(product.to_string()));
            let (_, end) = self.grpc(
                "checkout",
                "product-catalog",
                checkout,
                "GetProduct",
                t,
                1.0,
            );
            let (_, end2) = self.grpc("checkout", "currency", checkout, "Convert", end, 0.3);
            t = end2;
        }
        let (_, end) = self.grpc("checkout", "shipping", checkout, "GetQuote", t, 1.2);
        t = end;
        let amount = (self.rng.random_range(5.0..500.0f64) * 100.0).round() / 100.0;
        let (payment, end) = self.grpc("checkout", "payment", checkout, "Charge", t, 40.0);
        let payment_start = self.spans[payment].start_time_unix_nano;
        let charge_duration = self.latency(30.0);
        let payment_id = self.spans[payment].span_id;
        let card = if self.rng.random_bool(0.5) {
            "visa"
        } else {
            "mastercard"
        };
        self.push(
            "payment",
            Lib::Http,
            Some(payment_id),
            "POST",
            SpanKind::Client,
            payment_start + 200_000,
            charge_duration,
            vec![
                kv("http.request.method", s("POST")),
                kv("url.full", s("https://api.payments.example/v1/charges")),
                kv("server.address", s("api.payments.example")),
                kv("http.response.status_code", Value::Int(200)),
                kv("app.payment.card_type", s(card)),
                kv("app.payment.amount", Value::Double(amount)),
            ],
        );
        t = end;
        let declined = self.rng.random_bool(0.04);
        let order = self.spans.len();
        let checkout_span = &mut self.spans[checkout];
        checkout_span
            .attributes
            .push(kv("app.order.items", Value::Int(items)));
        checkout_span
            .attributes
            .push(kv("app.order.amount", Value::Double(amount)));
        checkout_span
            .attributes
            .push(kv("app.product.ids", Value::Array(ids)));
        checkout_span.attributes.push(kv(
            "app.feature.new_checkout",
            Value::Bool(order.is_multiple_of(3)),
        ));
        if declined {
            self.fail(
                payment,
                "PaymentDeclinedError",
                "card declined: insufficient funds",
            );
            self.fail(checkout, "PaymentFailedError", "failed to charge card");
            self.spans[checkout].end_time_unix_nano = t + 200_000;
            // The PlaceOrder client span (pushed just before its server span) waits for it.
            self.spans[checkout - 1].end_time_unix_nano = t + 300_000;
            return (t + 300_000, true);
        }
        let (_, end) = self.grpc("checkout", "shipping", checkout, "ShipOrder", t, 1.5);
        t = end;
        let (_, end) = self.grpc(
            "checkout",
            "email",
            checkout,
            "SendOrderConfirmation",
            t,
            15.0,
        );
        t = end;
        // Publish the order; consumers link back to the producer span.
        let publish_duration = self.latency(1.0);
        let checkout_id = self.spans[checkout].span_id;
        let producer = self.push(
            "checkout",
            Lib::Kafka,
            Some(checkout_id),
            "orders publish",
            SpanKind::Producer,
            t,
            publish_duration,
            vec![
                kv("messaging.system", s("kafka")),
                kv("messaging.destination.name", s("orders")),
                kv("messaging.operation", s("publish")),
            ],
        );
        let producer_id = self.spans[producer].span_id;
        for consumer in ["accounting", "fraud-detection"] {
            let at = t + publish_duration + self.latency(5.0);
            let duration = self.latency(4.0);
            let span = self.push(
                consumer,
                Lib::Kafka,
                Some(producer_id),
                "orders process",
                SpanKind::Consumer,
                at,
                duration,
                vec![
                    kv("messaging.system", s("kafka")),
                    kv("messaging.destination.name", s("orders")),
                    kv("messaging.operation", s("process")),
                    kv("messaging.kafka.consumer.group", s(consumer)),
                ],
            );
            self.spans[span].links.push(Link {
                trace_id: self.trace_id,
                span_id: producer_id,
                attributes: vec![kv("messaging.operation", s("publish"))],
                ..Link::default()
            });
            if consumer == "accounting" {
                let q = at + 100_000;
                self.sql("accounting", span, "INSERT", "orders", q);
            } else {
                let inner = at + 50_000;
                let span_id = self.spans[span].span_id;
                let score = self.rng.random_range(0.0..1.0f64);
                let check = self.push(
                    "fraud-detection",
                    Lib::App,
                    Some(span_id),
                    "score order",
                    SpanKind::Internal,
                    inner,
                    duration / 2,
                    vec![kv(
                        "app.fraud.score",
                        Value::Double((score * 1000.0).round() / 1000.0),
                    )],
                );
                if score > 0.98 {
                    self.spans[check]
                        .attributes
                        .push(kv("app.fraud.flagged", Value::Bool(true)));
                }
            }
        }
        self.spans[checkout].end_time_unix_nano = t + publish_duration + 200_000;
        self.spans[checkout - 1].end_time_unix_nano = t + publish_duration + 300_000;
        (t + publish_duration + 300_000, false)
    }
}

fn s_val(v: &str) -> Value {
    Value::String(v.to_string())
}

fn pascal(service: &str) -> String {
    service
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Generates traces of the shop.
pub struct Generator {
    config: GeneratorConfig,
    shop: Shop,
}

impl Generator {
    /// A generator with `config`.
    pub fn new(config: GeneratorConfig) -> Generator {
        Generator {
            config,
            shop: Shop::new(),
        }
    }

    /// Trace number `index` (deterministic for a seed).
    pub fn trace(&self, index: u64) -> Trace {
        let mut rng =
            SmallRng::seed_from_u64(self.config.seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut trace_id = [0u8; 16];
        rng.fill_bytes(&mut trace_id);
        let start =
            self.config.start_unix_nano + rng.random_range(0..self.config.window_nanos.max(1));
        let mut builder = TraceBuilder {
            shop: &self.shop,
            rng,
            trace_id,
            spans: Vec::with_capacity(48),
        };
        builder.request(start);
        Trace {
            trace_id,
            spans: builder.spans,
        }
    }

    /// Traces `range`, generated in parallel.
    pub fn traces(&self, range: std::ops::Range<u64>) -> Vec<Trace> {
        use rayon::prelude::*;
        range.into_par_iter().map(|i| self.trace(i)).collect()
    }

    /// About how many traces give `spans` spans (the shop averages about 9.6 spans per trace).
    pub fn traces_for_spans(spans: u64) -> u64 {
        (spans * 10 / 96).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nested_set;

    #[test]
    fn generation_is_deterministic_and_well_formed() {
        let g = Generator::new(GeneratorConfig::default());
        let a = g.traces(0..200);
        let b = g.traces(0..200);
        assert_eq!(a, b);
        let spans: usize = a.iter().map(|t| t.spans.len()).sum();
        assert!(spans > 200 * 5, "{spans} spans");
        for t in &a {
            let roots = t
                .spans
                .iter()
                .filter(|s| s.parent_span_id.is_none())
                .count();
            assert_eq!(roots, 1);
            let structure = nested_set::compute(&t.spans);
            assert!(
                structure.positions.iter().all(|p| p.is_known()),
                "every span is in the tree"
            );
            assert!(
                t.spans
                    .iter()
                    .all(|s| s.end_time_unix_nano >= s.start_time_unix_nano)
            );
        }
        let errors = a
            .iter()
            .flat_map(|t| &t.spans)
            .filter(|s| s.status_code == StatusCode::Error)
            .count();
        assert!(errors > 0, "some spans fail");
        let services: std::collections::HashSet<&str> = a
            .iter()
            .flat_map(|t| &t.spans)
            .map(|s| s.resource.service_name())
            .collect();
        assert!(services.len() >= 10, "{services:?}");
    }
}
