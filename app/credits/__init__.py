"""Carbon credits: monitoring reports, their verification, the CarbonCredit contract and its
events."""
