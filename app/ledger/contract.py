"""Contract deployment: the ImpactRegistry (its ABI and bytecode: app.pure.artifact), and the
one deployment transaction every built contract goes through (the bond's contracts too).

The chain client that anchors checkpoints (gas, nonces, retries, reconciliation) lives elsewhere;
this module only knows the contract.
"""

from typing import Any

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from web3 import Web3

from app.pure.artifact import IMPACT_REGISTRY, Artifact

ANCHOR_ROLE: bytes = Web3.keccak(text="ANCHOR_ROLE")


def deploy_contract(
    w3: Web3, account: LocalAccount, artifact: Artifact, *args: Any, timeout: float = 120.0
) -> ChecksumAddress:
    """Deploys ``artifact`` from ``account`` with constructor arguments ``args`` and returns
    its address once mined. A legacy (gasPrice) transaction: the target chains have no EIP-1559
    fee market."""
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    tx = factory.constructor(*args).build_transaction(
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
        raise RuntimeError(f"deploying {artifact.name} failed: transaction {tx_hash.hex()}")
    return address


def deploy_registry(w3: Web3, account: LocalAccount, *, timeout: float = 120.0) -> ChecksumAddress:
    """Deploys a new ImpactRegistry from ``account``, which becomes its admin and first
    anchorer."""
    return deploy_contract(w3, account, IMPACT_REGISTRY, timeout=timeout)
