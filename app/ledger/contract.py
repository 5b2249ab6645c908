"""Contract deployment: the ImpactRegistry (its ABI and bytecode: app.pure.artifact), and the
one deployment transaction every built contract goes through (the bond's contracts too).

The chain client that anchors checkpoints (gas, nonces, retries, reconciliation) lives elsewhere;
this module only knows the contract.
"""

from typing import Any

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from web3 import Web3
from web3.types import TxParams, TxReceipt

from app.pure.artifact import IMPACT_REGISTRY, Artifact

ANCHOR_ROLE: bytes = Web3.keccak(text="ANCHOR_ROLE")


def send_transaction(
    w3: Web3, account: LocalAccount, call: Any, *, gas: int | None = None, timeout: float = 120.0
) -> TxReceipt:
    """Signs ``call`` (a contract function call or constructor) from ``account`` and waits for
    its receipt. A legacy (gasPrice) transaction: the target chains have no EIP-1559 fee
    market. With ``gas`` the estimate is skipped, so a call that reverts is mined (status 0)."""
    params: TxParams = {
        "from": account.address,
        "nonce": w3.eth.get_transaction_count(account.address, "pending"),
        "gasPrice": w3.eth.gas_price,
        "chainId": w3.eth.chain_id,
    }
    if gas is not None:
        params["gas"] = gas
    signed = account.sign_transaction(call.build_transaction(params))
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout)


def deploy_contract(
    w3: Web3, account: LocalAccount, artifact: Artifact, *args: Any, timeout: float = 120.0
) -> ChecksumAddress:
    """Deploys ``artifact`` from ``account`` with constructor arguments ``args`` and returns
    its address once mined."""
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = send_transaction(w3, account, factory.constructor(*args), timeout=timeout)
    address = receipt["contractAddress"]
    if receipt["status"] != 1 or address is None:
        tx_hash = receipt["transactionHash"].hex()
        raise RuntimeError(f"deploying {artifact.name} failed: transaction {tx_hash}")
    return address


def deploy_registry(w3: Web3, account: LocalAccount, *, timeout: float = 120.0) -> ChecksumAddress:
    """Deploys a new ImpactRegistry from ``account``, which becomes its admin and first
    anchorer."""
    return deploy_contract(w3, account, IMPACT_REGISTRY, timeout=timeout)
