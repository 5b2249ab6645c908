"""The ImpactRegistry contract as built: ABI and bytecode from the checked-in artifact
(contracts/artifacts/ImpactRegistry.json, written by contracts/build.mjs). Read once at import;
the service and the standalone verifier share it.
"""

import json
from pathlib import Path
from typing import Any, cast

from eth_typing import ABI, HexStr

ARTIFACT_PATH = Path(__file__).resolve().parents[2] / "contracts/artifacts/ImpactRegistry.json"


def _load_artifact() -> dict[str, Any]:
    try:
        artifact: dict[str, Any] = json.loads(ARTIFACT_PATH.read_text())
    except FileNotFoundError as e:
        raise RuntimeError(f"{ARTIFACT_PATH} is missing: run `make contracts`") from e
    return artifact


_ARTIFACT = _load_artifact()

REGISTRY_ABI: ABI = cast(ABI, _ARTIFACT["abi"])
REGISTRY_BYTECODE: HexStr = HexStr(_ARTIFACT["bytecode"])
REGISTRY_DEPLOYED_BYTECODE: HexStr = HexStr(_ARTIFACT["deployedBytecode"])
