"""The response to a subject access request, as one document anyone can check. Pure.

A bundle (``ledger-sar-bundle/v1``) is JSON with these members:

- ``format``, ``generated_at``, ``organisation`` (code, name, nation), ``organisations``
  (the name of every organisation the items mention), ``case`` (reference, the day the
  request was received, what the search included) and ``cut_off`` (the signed tree the
  search covered, and how many newer records were left out because the log had not
  sealed them yet): the *header*;
- ``sections``: the eleven things UK GDPR Art. 15 says the person must be told, in
  plain English (:mod:`ledger.dsar.articles`);
- ``items``: the copy of the data, newest first. Each item is one ledger event: its
  position and leaf index, kind, times, organisation, a plain-English sentence, the
  structured detail, the decisions on its third-party data and any disclosed value
  (:mod:`ledger.dsar.redaction`), its *disclosable form* (base64; the event as the log
  commits to it, every personal field a salted commitment) and the *openings* of the
  person's own commitments in it;
- ``manifest``: ONE signed tree head; a digest of each header member and of each
  section; and for each item, by ledger position: its leaf index, leaf hash, leaf input
  (which frames the SHA-256 of the disclosable form), that SHA-256, a digest of each of
  its other members, and its inclusion proof against the tree head;
- ``signature``: the log's Ed25519 key (the key that signs tree heads) over the
  manifest, so a verifier needs only the log's public key.

**Canonical form.** Every digest is standard base64 of SHA-256 over the RFC 8785 (JCS)
canonical JSON of the value. The signature covers ``"ledger-sar-bundle/v1-manifest
document\\n"`` followed by the JCS bytes of ``manifest`` (see
:func:`ledger.transparency.checkpoint.document_text`: a signature on a document can never
pass for one on a tree head). The bundle's own SHA-256, which the case's ``responded``
event carries, is over the JCS bytes of the whole document, and those bytes are the
bundle's JSON file (:attr:`ResponseBundle.json_bytes`), so ``sha256sum`` of the file is
the hash the log records.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import orjson
from ledger_emitter import canonical

from ledger.transparency.checkpoint import b64

FORMAT = "ledger-sar-bundle/v1"
MANIFEST_KIND = "ledger-sar-bundle/v1-manifest"
HEADER = ("format", "generated_at", "organisation", "organisations", "case", "cut_off")
# Item members the manifest proves directly (position, leaf index) or through the leaf
# (the disclosable form); every other member has its own digest.
PROVEN = ("position", "leaf_index", "disclosable")


Serialiser = Callable[[Any], bytes]


def digest(value: Any, serialise: Serialiser = canonical) -> str:
    """Standard base64 of SHA-256 over the JCS canonical JSON of ``value``."""
    return b64(hashlib.sha256(serialise(value)).digest())


def sorted_json(value: Any) -> bytes:
    """orjson with sorted members: the JCS bytes of plain data (no floats, integers
    within 2**53, ASCII member names), ~30x faster than checking that first. Both
    serialisations are compositional (a value serialises the same wherever it sits), so
    where this gives a whole document's JCS bytes it gave every part's: the builder
    checks that once, on the whole bundle, instead of once per digest."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
