"""What every format of the monitoring report prints alike: the fields naming the report, the
summary figures (content key and unit), a parameter's source as text. Pure."""

import json
from collections.abc import Mapping
from typing import Any

# The period's figures (``content.figures``) in the order the summaries list them.
SUMMARY: tuple[tuple[str, str], ...] = (
    ("baseline_emissions_g", "g-CO2"),
    ("project_emissions_g", "g-CO2"),
    ("reductions_g", "g-CO2"),
    ("reductions_t", "t-CO2"),
    ("energy_counterfactual_wh", "Wh"),
    ("energy_metered_wh", "Wh"),
    ("days_in_period", "days"),
    ("days_counted", "days"),
    ("days_excluded", "days"),
    ("days_issuer_attested", "days"),
)


def identification(content: Mapping[str, Any], content_sha256: str) -> dict[str, str | int]:
    """The fields every format carries to name the report: its hash, project, period and the
    checkpoint its day results are logged under."""
    checkpoint = content["evidence"]["checkpoint"]
    return {
        "content_sha256": content_sha256,
        "project_id": content["project"]["project_id"],
        "first_day": content["period"]["first_day"],
        "last_day": content["period"]["last_day"],
        "checkpoint_number": checkpoint["number"],
        "checkpoint_tree_size": checkpoint["tree_size"],
    }


def source_text(source: Mapping[str, Any]) -> str:
    """A parameter's source as one line of JSON (keys sorted, characters as they are)."""
    return json.dumps(source, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
