"""Publishers: the outbox publisher (the ledger's committed events and stored refusals
out to Kafka).

Stage of the data flow: the wire boundary out. A publisher reads what the ledger has
durably recorded and produces it to ``ledger.events`` and ``ledger.rejected``, tracking
its position in PostgreSQL after the broker has acknowledged.

May import: ``ledger``. Never ``consumers``, ``projections``, ``api``, ``infra`` or ``cli``.
"""
