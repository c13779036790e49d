"""The demo citizens: the demo data (``ledger run``) records their data, and the
development sign-in (never in production) lets anyone sign in as one of them."""

from __future__ import annotations

# Name: the identifier linked to their account (scheme:value).
CITIZENS = {
    "Alex": "nhs-number:9434765919",
    "Sam": "nino:AB123456C",
    "Jo": "one-login:urn:fdc:gov.uk:2022:demo-citizen-jo-0001",
}
