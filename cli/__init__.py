"""The ``ledger`` command: one composition root per process, and the supervisor.

Stage of the data flow: none of its own. It wires settings to concrete parts and starts
them: ``ledger run`` (everything, under one supervisor), or each process alone
(``ledger ingest``, ``ledger project``, ``ledger api``, ``ledger postgres``,
``ledger broker``), plus ``ledger doctor`` and the demo.

May import: every package. Nothing imports ``cli``.
"""
