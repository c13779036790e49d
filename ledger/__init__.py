"""The ledger: the system of record.

Stage of the data flow: the core. Everything a service submits is decoded, verified,
authorised and appended here, once, in one PostgreSQL transaction with the Kafka
position it came from. Domain model (aggregates and their past-tense events), the
signed event contract, subject pseudonyms, Merkle maths and persistence live here.

May import: the standard library and third-party libraries only, the emitter SDK
(``ledger_emitter``, which defines the signed event's canonical form, keys and record
key) among them. It imports no sibling package (projections, consumers, api, infra,
cli); ``tests/unit/test_layers.py`` checks.
"""
