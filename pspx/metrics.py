"""Prometheus metrics shared by every service (served on /metrics)."""

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "pspx_http_requests_total", "HTTP requests served", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram("pspx_http_request_seconds", "HTTP request latency", ["method", "route"])
EVENTS_PUBLISHED = Counter(
    "pspx_events_published_total", "Events published to Kafka", ["topic", "event_type"]
)
EVENTS_CONSUMED = Counter("pspx_events_consumed_total", "Events handled", ["topic", "consumer"])
EVENTS_SKIPPED = Counter(
    "pspx_events_skipped_total",
    "Events of a type the consumer has no handler for (a newer producer's, say), skipped",
    ["consumer", "event_type"],
)
EVENTS_DEAD_LETTERED = Counter(
    "pspx_events_dead_lettered_total", "Events sent to a dead-letter topic", ["topic", "consumer"]
)
OUTBOX_PENDING = Gauge(
    "pspx_outbox_pending",
    "Committed changes whose events Kafka has not yet acknowledged",
    ["source"],
)
RELAY_REPUBLISHED = Counter(
    "pspx_relay_republished_total",
    "Events republished because the broker had lost a topic's history",
    ["source"],
)
FOLLOWER_REWINDS = Counter(
    "pspx_follower_rewinds_total",
    "Partitions a follower read again from the beginning because the broker had lost them",
    ["consumer"],
)
