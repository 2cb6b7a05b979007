//! The numbers `GET /metrics` shows, kept in one registry built at start-up.
//!
//! Labels are only ever route templates, methods, status codes and fixed words, so
//! their number stays bounded and no address, code or token can end up in one.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// Request latency buckets in seconds: most answers take milliseconds, a sign-in
/// waiting on siteverify or the database can take seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    kind: &'static str,
}

/// Why a code email was not sent (this time).
#[derive(Clone, Copy, Debug)]
pub enum MailFailure {
    /// The SMTP server failed for now; the message is retried.
    Transient,
    /// The message was refused for good, or could not be composed; given up.
    Permanent,
    /// The code expired before the message could be sent; dropped.
    Expired,
}

impl MailFailure {
    fn label(self) -> &'static str {
        match self {
            MailFailure::Transient => "transient",
            MailFailure::Permanent => "permanent",
            MailFailure::Expired => "expired",
        }
    }
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram, fn() -> Histogram>,
    codes_sent: Counter,
    wrong_codes: Counter,
    mail_queue_depth: Gauge,
    mail_failures: Family<FailureLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("doorcode");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status",
            requests.clone(),
        );
        let durations =
            Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(|| {
                Histogram::new(LATENCY_BUCKETS)
            });
        registry.register_with_unit(
            "http_request_duration",
            "Time to answer an HTTP request, by route template",
            Unit::Seconds,
            durations.clone(),
        );
        let codes_sent = Counter::default();
        registry.register(
            "codes_sent",
            "Code emails accepted by the SMTP server (or printed, in dev mode)",
            codes_sent.clone(),
        );
        let wrong_codes = Counter::default();
        registry.register(
            "wrong_codes",
            "Codes entered that did not match",
            wrong_codes.clone(),
        );
        let mail_queue_depth = Gauge::default();
        registry.register(
            "mail_queue_depth",
            "Code emails waiting in the outbox",
            mail_queue_depth.clone(),
        );
        let mail_failures = Family::<FailureLabels, Counter>::default();
        registry.register(
            "mail_failures",
            "Code emails not sent: transient (retried), permanent (given up), expired (dropped)",
            mail_failures.clone(),
        );
        // Every kind shows from the start, so a rate over it never lacks a series.
        for kind in [
            MailFailure::Transient,
            MailFailure::Permanent,
            MailFailure::Expired,
        ] {
            let _ = mail_failures.get_or_create(&FailureLabels { kind: kind.label() });
        }
        Self {
            registry,
            requests,
            durations,
            codes_sent,
            wrong_codes,
            mail_queue_depth,
            mail_failures,
        }
    }

    /// `route` must be a route template (or `other`), never a raw path.
    pub fn request_answered(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let labels = RequestLabels {
            route: route.to_owned(),
            method: method_label(method),
            status,
        };
        self.requests.get_or_create(&labels).inc();
        let route = RouteLabels {
            route: labels.route,
        };
        self.durations.get_or_create(&route).observe(seconds);
    }

    pub fn code_sent(&self) {
        self.codes_sent.inc();
    }

    pub fn wrong_code(&self) {
        self.wrong_codes.inc();
    }

    pub fn mail_failed(&self, kind: MailFailure) {
        self.mail_failures
            .get_or_create(&FailureLabels { kind: kind.label() })
            .inc();
    }

    /// Everything in the Prometheus text format, with the queue depth read by the
    /// caller at scrape time.
    pub fn render(&self, mail_queue_depth: u64) -> String {
        self.mail_queue_depth
            .set(i64::try_from(mail_queue_depth).unwrap_or(i64::MAX));
        let mut text = String::new();
        // Writing into a String cannot fail; an encoding error would be a bug here.
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!(error = %e, "cannot encode the metrics");
        }
        text
    }
}

/// Methods are a client's free choice; anything unusual is counted as `other` so
/// that made-up methods cannot add series.
fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];
    KNOWN
        .into_iter()
        .find(|known| *known == method)
        .unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_has_every_family_and_no_raw_values() {
        let metrics = Metrics::new();
        metrics.request_answered("/login/verify", "POST", 303, 0.02);
        metrics.request_answered("other", "BREW", 404, 0.001);
        metrics.code_sent();
        metrics.wrong_code();
        metrics.mail_failed(MailFailure::Transient);
        let text = metrics.render(3);
        for expected in [
            r#"doorcode_http_requests_total{route="/login/verify",method="POST",status="303"} 1"#,
            r#"doorcode_http_requests_total{route="other",method="other",status="404"} 1"#,
            r#"doorcode_http_request_duration_seconds_bucket{le="0.025",route="/login/verify"} 1"#,
            "doorcode_codes_sent_total 1",
            "doorcode_wrong_codes_total 1",
            "doorcode_mail_queue_depth 3",
            r#"doorcode_mail_failures_total{kind="transient"} 1"#,
            r#"doorcode_mail_failures_total{kind="expired"} 0"#,
        ] {
            assert!(text.contains(expected), "no `{expected}` in:\n{text}");
        }
        assert!(!text.contains("BREW"), "{text}");
    }
}
