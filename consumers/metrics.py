"""Prometheus metrics of the ingest worker and the relay, one endpoint per process."""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

log = logging.getLogger("ledger.metrics")

BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class IngestMetrics:
    """What an operator watches on an ingest worker."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.appended = Counter(
            "ledger_ingest_events_appended", "Events newly appended to the ledger", registry=r
        )
        self.duplicates = Counter(
            "ledger_ingest_duplicates",
            "Submissions already recorded (same source and id)",
            registry=r,
        )
        self.refused = Counter(
            "ledger_ingest_events_refused",
            "Submissions refused, by reason",
            ["reason"],
            registry=r,
        )
        self.lag = Gauge(
            "ledger_ingest_lag_records",
            "Records not yet durably consumed: partition high watermark minus tracked position",
            ["topic", "partition"],
            registry=r,
        )
        self.batch_seconds = Histogram(
            "ledger_ingest_batch_seconds",
            "Time to assess and append one poll (every partition of it)",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.transient_failures = Counter(
            "ledger_ingest_transient_failures",
            "Retried failures (database or broker away)",
            registry=r,
        )


class RelayMetrics:
    """What an operator watches on the relay."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.published = Counter(
            "ledger_relay_records_published",
            "Records published and acknowledged, by topic",
            ["topic"],
            registry=self.registry,
        )
        self.position = Gauge(
            "ledger_relay_position",
            "Last position published, by topic",
            ["topic"],
            registry=self.registry,
        )
        self.transient_failures = Counter(
            "ledger_relay_transient_failures",
            "Retried failures (database or broker away)",
            registry=self.registry,
        )


def serve(registry: CollectorRegistry, host: str, port: int) -> None:
    """Expose ``/metrics``; a port already taken costs the metrics, never the worker."""
    if port <= 0:
        return
    try:
        start_http_server(port, addr=host, registry=registry)
        log.info("metrics on http://%s:%d/metrics", host, port)
    except OSError as exc:
        log.warning("metrics not served on %s:%d: %s", host, port, exc)
