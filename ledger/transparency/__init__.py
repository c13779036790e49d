"""The verifiable log: the ledger's events as an RFC 9162 Merkle tree with signed heads.

Stage of the data flow: follows the ledger's notification log. The sealer turns each
committed event into a leaf (in ledger order, 0-based, gap-free), stores every completed
tree node once and signs tree heads; readers serve proofs from O(log n) stored nodes; the
auditor recomputes everything from the events table or an export.

May import: the standard library, third-party libraries and the rest of ``ledger``
(``ledger.merkle`` for the maths). Nothing outside ``ledger``.
"""
