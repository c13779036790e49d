"""Prometheus metrics of the ingest worker (served by its process, ``cli.processes``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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
        self.stuck = Gauge(
            "ledger_ingest_stuck",
            "1 while polls have failed to be recorded several times in a row",
            registry=r,
        )
