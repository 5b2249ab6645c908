"""The README's configuration table lists exactly the settings the service reads."""

import re
from pathlib import Path

from app.core.settings import Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_configuration_table_matches_settings() -> None:
    documented = set(re.findall(r"^\| `(GBT_[A-Z0-9_]+)` \|", README.read_text(), re.MULTILINE))
    expected = {f"GBT_{name.upper()}" for name in Settings.model_fields}
    assert documented == expected
