"""The contracts as built: ABI and bytecode from the checked-in artifacts
(contracts/artifacts/<Name>.json, written by contracts/build.mjs). Read once at import; the
service and the standalone verifier share them.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from eth_typing import ABI, HexStr

ARTIFACTS_DIR = Path(__file__).resolve().parents[2] / "contracts/artifacts"
ARTIFACT_PATH = ARTIFACTS_DIR / "ImpactRegistry.json"


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: ABI
    bytecode: HexStr  # creation code, constructor arguments not included
    deployed_bytecode: HexStr


def artifact_path(name: str) -> Path:
    return ARTIFACTS_DIR / f"{name}.json"


def load_artifact(name: str) -> Artifact:
    """The artifact of contract ``name`` (ImpactRegistry, PersonalInfo, GreenBondToken,
    HoldingsReader, CarbonCredit)."""
    path = artifact_path(name)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as e:
        raise RuntimeError(f"{path} is missing: run `make contracts`") from e
    return Artifact(
        name=name,
        abi=cast(ABI, data["abi"]),
        bytecode=HexStr(data["bytecode"]),
        deployed_bytecode=HexStr(data["deployedBytecode"]),
    )


IMPACT_REGISTRY = load_artifact("ImpactRegistry")
PERSONAL_INFO = load_artifact("PersonalInfo")
GREEN_BOND_TOKEN = load_artifact("GreenBondToken")
HOLDINGS_READER = load_artifact("HoldingsReader")
CARBON_CREDIT = load_artifact("CarbonCredit")

REGISTRY_ABI: ABI = IMPACT_REGISTRY.abi
REGISTRY_BYTECODE: HexStr = IMPACT_REGISTRY.bytecode
REGISTRY_DEPLOYED_BYTECODE: HexStr = IMPACT_REGISTRY.deployed_bytecode
