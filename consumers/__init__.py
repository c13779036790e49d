"""Kafka consumers: the ingest worker (ledger.submissions -> the ledger's write path).

Stage of the data flow: the wire boundary in (an entry point). Consumers only translate
what Kafka hands them into ``ledger.incoming.Incoming`` values, call the ledger's one
write path (``ledger.writing``), and commit Kafka offsets after the ledger transaction
that recorded the effect has committed.

May import: ``ledger``, but not its persistence (``ledger.persistence``,
``ledger.application``, ``eventsourcing.persistence``, ``psycopg``): the write path is
the only door. Never ``projections``, ``publishers``, ``api``, ``infra`` or ``cli``.
"""
