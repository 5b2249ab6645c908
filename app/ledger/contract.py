"""The ImpactRegistry contract as built: ABI and bytecode from the checked-in artifact
(contracts/artifacts/ImpactRegistry.json, written by contracts/build.mjs), and its deployment.

The chain client that anchors checkpoints (gas, nonces, retries, reconciliation) lives elsewhere;
this module only knows the contract.
"""

import json
from pathlib import Path
from typing import Any, cast

from eth_account.signers.local import LocalAccount
from eth_typing import ABI, ChecksumAddress, HexStr
from web3 import Web3

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
ANCHOR_ROLE: bytes = Web3.keccak(text="ANCHOR_ROLE")


def deploy_registry(w3: Web3, account: LocalAccount, *, timeout: float = 120.0) -> ChecksumAddress:
    """Deploys a new ImpactRegistry from ``account`` (which becomes its admin and first anchorer)
    and returns its address once mined. A legacy (gasPrice) transaction: the target chains have
    no EIP-1559 fee market."""
    factory = w3.eth.contract(abi=REGISTRY_ABI, bytecode=REGISTRY_BYTECODE)
    tx = factory.constructor().build_transaction(
        {
            "from": account.address,
            "nonce": w3.eth.get_transaction_count(account.address, "pending"),
            "gasPrice": w3.eth.gas_price,
            "chainId": w3.eth.chain_id,
        }
    )
    signed = account.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout)
    address = receipt["contractAddress"]
    if receipt["status"] != 1 or address is None:
        raise RuntimeError(f"deploying ImpactRegistry failed: transaction {tx_hash.hex()}")
    return address
