"""The HTTP API (FastAPI) over the projections, and the HTTP entry point for events.

Stage of the data flow: the read side's edge (and a second wire boundary in). Routes
translate HTTP into calls on projections and the ledger; they never write SQL.

May import: ``ledger`` and ``projections``. Never ``consumers``, ``infra`` or ``cli``.
"""
