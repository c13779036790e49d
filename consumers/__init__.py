"""Kafka consumers: the ingest worker (ledger.submissions -> ledger) and, later, the relay.

Stage of the data flow: the wire boundary in. Consumers only decode what Kafka hands
them, call the ledger's one write path, and commit Kafka offsets after the ledger
transaction that recorded the effect has committed.

May import: ``ledger`` (and ``projections`` only to wait for them, if ever). Never
``api``, ``infra`` or ``cli``.
"""
