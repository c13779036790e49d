"""The UK's three jurisdictions, as far as an organisation's obligations differ between
them: their bank holidays, hence the working days of statutory deadlines.

An organisation registered without a nation is in England and Wales.
"""

from __future__ import annotations

ENGLAND_AND_WALES = "england-and-wales"
SCOTLAND = "scotland"
NORTHERN_IRELAND = "northern-ireland"
NATIONS = (ENGLAND_AND_WALES, SCOTLAND, NORTHERN_IRELAND)
