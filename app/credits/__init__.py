"""Carbon credits: monitoring reports, their verification, the CarbonCredit contract and its events
(docs/credits.md)."""

from app.credits import leaves as leaves
