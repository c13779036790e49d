"""Projections: views of the ledger for citizens, DSAR teams, services and auditors.

Stage of the data flow: the read side. Each projection follows the ledger's
notification log and writes its view rows and its tracking row in one PostgreSQL
transaction, so a crash neither loses nor doubles an update and a view can be rebuilt
from the log at any time.

May import: ``ledger`` (domain events, read-only). Never ``consumers``, ``api``,
``infra`` or ``cli``.
"""
