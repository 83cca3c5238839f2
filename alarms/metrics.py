"""Prometheus metrics of the alarm layer; every component gets them from one registry passed in."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
)


class AlarmMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.press_to_incident = Histogram(
            "sharpeyes_press_to_incident_seconds",
            "Button event received over MQTT until its incident change is committed",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.incident_to_webhook = Histogram(
            "sharpeyes_incident_to_webhook_seconds",
            "Incident change committed until the webhook receiver acknowledged it (2xx)",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.button_to_webhook = Histogram(
            "sharpeyes_button_to_webhook_seconds",
            "Button's own timestamp until the webhook receiver acknowledged (end to end, device clock)",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.incidents = Counter(
            "sharpeyes_incident_changes_total",
            "Incident changes by category and kind of change",
            ["category", "change"],
            registry=registry,
        )
        self.duplicates = Counter(
            "sharpeyes_duplicate_events_total", "Events dropped as already seen", registry=registry
        )
        self.deliveries = Counter(
            "sharpeyes_deliveries_total",
            "Outbox delivery attempts by channel, target and result",
            ["channel", "target", "result"],
            registry=registry,
        )
        self.dead_letters = Gauge(
            "sharpeyes_dead_letters",
            "Deliveries that exhausted their retries and wait for an operator",
            registry=registry,
        )
        self.outbox_pending = Gauge(
            "sharpeyes_outbox_pending", "Outbox rows waiting for delivery", registry=registry
        )
        self.escalations = Counter(
            "sharpeyes_escalations_total",
            "Acknowledge deadlines missed, by level reached",
            ["level"],
            registry=registry,
        )
        self.stale_clears = Counter(
            "sharpeyes_stale_clears_total",
            "Clears of a condition older than its open incident's last trigger, ignored (out of order)",
            ["category"],
            registry=registry,
        )
        self.storage_errors = Counter(
            "sharpeyes_storage_errors_total",
            "Writes that failed and were not acknowledged upstream",
            registry=registry,
        )
