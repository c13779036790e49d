"""The Kafka record key: events of one aggregate share it, so they keep their order.

Each event type names its aggregate by an *ordering text*, written here as templates in
which ``{/pointer}`` stands for the string that JSON pointer names in the event. The
first template of the type whose pointers all name strings gives the text; an event of
a type not listed, or to which none applies, is keyed by its id. The record key is the
first 4 hex digits of SHA-256 of the text (UTF-8): enough to spread load over
partitions and keep one aggregate's events in order, too coarse to reveal an identifier
(each key stands for tens of thousands).

These templates are the one definition of the rule: the ledger publishes them, per
message, in its AsyncAPI document, so a service in any language keys records the same.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

# A citizen's consents, objections and the facts about them: the first subject named.
SUBJECT = "{/data/subjects/0/scheme}:{/data/subjects/0/value}"
SAR_CASE = "sar:{/data/case/organisation}:{/data/case/reference}"
QUERY_CASE = "query:{/data/query/organisation}:{/data/query/reference}"
KEY_SERVICE = "service:{/data/service}"
AGREEMENT = "agreement:{/data/reference}"

ORDERING: Mapping[str, tuple[str, ...]] = {
    "uk.gov.ledger.data-accessed.v1": (SUBJECT,),
    # A bulk share sent as a manifest names no subject.
    "uk.gov.ledger.data-shared.v1": (SUBJECT, "share:{/data/sender}:{/data/manifest/sha256}"),
    "uk.gov.ledger.consent-given.v1": (SUBJECT,),
    "uk.gov.ledger.consent-withdrawn.v1": (SUBJECT,),
    "uk.gov.ledger.consent-expired.v1": (SUBJECT,),
    "uk.gov.ledger.consent-renewed.v1": (SUBJECT,),
    "uk.gov.ledger.objection-set.v1": (SUBJECT,),
    "uk.gov.ledger.objection-lifted.v1": (SUBJECT,),
    "uk.gov.ledger.sar-received.v1": (SAR_CASE,),
    "uk.gov.ledger.sar-identity-verified.v1": (SAR_CASE,),
    "uk.gov.ledger.sar-clarification-requested.v1": (SAR_CASE,),
    "uk.gov.ledger.sar-clarification-received.v1": (SAR_CASE,),
    "uk.gov.ledger.sar-extended.v1": (SAR_CASE,),
    "uk.gov.ledger.sar-responded.v1": (SAR_CASE,),
    "uk.gov.ledger.sar-refused.v1": (SAR_CASE,),
    "uk.gov.ledger.sar-closed.v1": (SAR_CASE,),
    "uk.gov.ledger.sar-redaction-decided.v1": (SAR_CASE,),
    "uk.gov.ledger.query-raised.v1": (QUERY_CASE,),
    "uk.gov.ledger.query-answered.v1": (QUERY_CASE,),
    "uk.gov.ledger.organisation-registered.v1": ("organisation:{/data/organisation/code}",),
    "uk.gov.ledger.service-registered.v1": ("service:{/data/service/source}",),
    "uk.gov.ledger.key-registered.v1": (KEY_SERVICE,),
    "uk.gov.ledger.key-rotated.v1": (KEY_SERVICE,),
    "uk.gov.ledger.key-revoked.v1": (KEY_SERVICE,),
    "uk.gov.ledger.agreement-registered.v1": ("agreement:{/data/agreement/reference}",),
    "uk.gov.ledger.agreement-amended.v1": (AGREEMENT,),
    "uk.gov.ledger.agreement-ended.v1": (AGREEMENT,),
}

_POINTER = re.compile(r"\{(/[^{}]*)\}")


def _named(event: Mapping[str, Any], pointer: str) -> object:
    value: object = event
    for token in pointer.split("/")[1:]:
        if isinstance(value, Mapping):
            value = value.get(token)
        elif isinstance(value, list) and token.isdigit() and int(token) < len(value):
            value = value[int(token)]
        else:
            return None
    return value


def _filled(template: str, event: Mapping[str, Any]) -> str | None:
    values = [_named(event, pointer) for pointer in _POINTER.findall(template)]
    if not all(isinstance(value, str) for value in values):
        return None
    strings = iter(values)
    return _POINTER.sub(lambda _: str(next(strings)), template)


def ordering_text(event: Mapping[str, Any]) -> str:
    """The text that names the aggregate ``event`` changes (see the module's rules)."""
    for template in ORDERING.get(str(event.get("type")), ()):
        text = _filled(template, event)
        if text is not None:
            return text
    return str(event.get("id", ""))


def partition_key(event: Mapping[str, Any]) -> bytes:
    """The Kafka record key of ``event``: 4 hex digits shared by its aggregate's events."""
    return hashlib.sha256(ordering_text(event).encode()).hexdigest()[:4].encode()
