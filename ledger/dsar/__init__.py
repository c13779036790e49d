"""Subject access requests as a product: the statutory clock, the rules of a case, the
response bundle and the keys the ledger holds to sign officers' actions.

The pure parts (the clock, the rules, the bundle's document and its offline check)
import no adapter; what reads the views or the log lives in ``projections`` and ``api``.
"""
