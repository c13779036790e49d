"""The emitter SDK of the audit and consent ledger: build a CloudEvent, sign it, send it.

Services of public bodies use this (or any language, from the ledger's published
contract) to report what they did, over Kafka (``ledger.submissions``) or HTTP
(``POST /v1/events``). Ids are stable: derive them with :func:`stable_id` from what the
event is about, or pass the same ``event_id`` when retrying, and the ledger records the
event once (a duplicate is not an error).

Stage of the data flow: the service side, before the ledger. May import: the standard
library and its own third-party dependencies only; nothing of the ledger, which it
must run without (``tests/unit/test_layers.py`` and its own tests check).
"""

from ledger_emitter.emitter import Emitter, Transport, stable_id
from ledger_emitter.http_transport import HttpTransport, Receipt, Refused
from ledger_emitter.jcs import canonical
from ledger_emitter.kafka_transport import Delivered, KafkaTransport, NotDelivered
from ledger_emitter.ordering import ORDERING, partition_key
from ledger_emitter.signing import (
    KEY_ID_ATTR,
    SIGNATURE_ATTR,
    SigningKey,
    b64url,
    b64url_decode,
    key_id_for,
    signing_input,
)

__all__ = [
    "KEY_ID_ATTR",
    "ORDERING",
    "SIGNATURE_ATTR",
    "Delivered",
    "Emitter",
    "HttpTransport",
    "KafkaTransport",
    "NotDelivered",
    "Receipt",
    "Refused",
    "SigningKey",
    "Transport",
    "b64url",
    "b64url_decode",
    "canonical",
    "key_id_for",
    "partition_key",
    "signing_input",
    "stable_id",
]
