"""The citizen portal: server-rendered GOV.UK Frontend pages, served by the API process.

Stage of the data flow: the read side's edge, for citizens in a browser (beside the
HTTP API). Its routes translate a page visit or a form into calls on projections and
the ledger's one write path, exactly as the API's routes do, and render plain English.

May import: ``ledger``, ``projections`` and the API's shared, non-route modules
(``api.deps``, ``api.dsar``, ``api.citizen_cases``, ``api.timeline_entries``, ...).
Never ``api.routes``, ``consumers``, ``infra`` or ``cli``; its routes never reach
persistence.
"""
