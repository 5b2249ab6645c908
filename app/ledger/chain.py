"""Chain access for anchoring (and the bond token's issuer, the same account): one signer,
legacy (gasPrice) transactions so the same code runs on Anvil and on a berlin-style consortium
chain without EIP-1559 (ibet for Fin is GoQuorum/QBFT), nonces taken under the anchor lock,
receipts awaited with a timeout."""

from dataclasses import dataclass
from typing import Any, cast

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress, HexStr
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError
from web3.types import BlockIdentifier, TxParams, TxReceipt

from app.ledger.contract import deploy_registry
from app.pure.artifact import REGISTRY_ABI

# What nodes answer to a transaction they already have or already mined (geth and GoQuorum:
# "already known", "nonce too low"; Anvil: "transaction already imported").
_ALREADY_THERE = ("already known", "already imported", "known transaction", "nonce too low")


class ChainError(Exception):
    """The chain could not be reached or refused something; the caller retries later."""


@dataclass(frozen=True)
class ChainConfig:
    rpc_url: str
    expected_chain_id: int | None
    private_key: str
    gas_price_wei: int | None  # None: ask the node (eth_gasPrice)
    gas_limit: int | None  # None: estimate, plus a margin
    confirmations: int
    timeout_s: float


@dataclass(frozen=True)
class OnChainCheckpoint:
    """A checkpoint as the contract holds it (``getCheckpoint``): chain data, never changed."""

    number: int
    tree_size: int
    root: bytes
    closes_at: int
    methodology_hash: bytes
    totals: tuple[tuple[int, int, int], ...]  # (bond id, reduction Wh, CO2 avoided g)
    anchored_at: int


@dataclass(frozen=True)
class SignedTx:
    nonce: int
    raw: bytes
    tx_hash: str


class ChainClient:
    def __init__(self, config: ChainConfig) -> None:
        self.config = config
        self.w3 = Web3(
            Web3.HTTPProvider(config.rpc_url, request_kwargs={"timeout": config.timeout_s})
        )
        self.account: LocalAccount = Account.from_key(config.private_key)
        try:
            self.chain_id = int(self.w3.eth.chain_id)
        except Exception as exc:  # connection refused, timeout, bad gateway: all "unavailable"
            raise ChainError(f"chain node at {config.rpc_url} unavailable: {exc}") from exc
        if config.expected_chain_id is not None and self.chain_id != config.expected_chain_id:
            raise ChainError(
                f"chain id {self.chain_id} at {config.rpc_url}, expected "
                f"{config.expected_chain_id}: refusing to anchor to the wrong chain"
            )

    def registry(self, address: str) -> Contract:
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=REGISTRY_ABI)

    def deploy(self) -> ChecksumAddress:
        try:
            return deploy_registry(self.w3, self.account, timeout=self.config.timeout_s)
        except Exception as exc:
            raise ChainError(f"deploying the registry failed: {exc}") from exc

    def has_code(self, address: str) -> bool:
        return len(self.w3.eth.get_code(Web3.to_checksum_address(address))) > 0

    def block_number(self) -> int:
        """The latest block: reads pinned to it all see one state, whatever arrives meanwhile."""
        return int(self.w3.eth.block_number)

    def next_nonce(self) -> int:
        return int(self.w3.eth.get_transaction_count(self.account.address, "pending"))

    def mined_nonce(self, block: BlockIdentifier = "latest") -> int:
        """Transactions of the signer in blocks up to ``block``."""
        return int(self.w3.eth.get_transaction_count(self.account.address, block))

    def sign(self, call: ContractFunction | ContractConstructor, nonce: int) -> SignedTx:
        """``call`` as a legacy transaction of the service's account with ``nonce``: the
        configured gas price or the node's, the configured gas limit or the estimate plus a
        margin. Estimating runs the call: ContractLogicError (ContractCustomError with the
        contract's error) when the contract refuses it."""
        gas_price = self.config.gas_price_wei
        if gas_price is None:
            gas_price = int(self.w3.eth.gas_price)
        tx: dict[str, Any] = {
            "from": self.account.address,
            "nonce": nonce,
            "gasPrice": gas_price,
            "chainId": self.chain_id,
        }
        params = cast(TxParams, tx)
        tx["gas"] = self.config.gas_limit or int(call.estimate_gas(params) * 1.25) + 10_000
        signed = self.account.sign_transaction(cast(Any, call.build_transaction(params)))
        return SignedTx(nonce, bytes(signed.raw_transaction), "0x" + signed.hash.hex())

    def sign_checkpoint(
        self,
        address: str,
        nonce: int,
        tree_size: int,
        root: bytes,
        closes_at: int,
        methodology_hash: bytes,
        totals: list[tuple[int, int, int]],
    ) -> SignedTx:
        call = self.registry(address).functions.addCheckpoint(
            tree_size, root, closes_at, methodology_hash, totals
        )
        try:
            return self.sign(call, nonce)
        except ContractLogicError as exc:  # e.g. TreeSizeNotGrowing: the caller retries later
            raise ChainError(f"the contract refuses checkpoint {tree_size}: {exc}") from exc

    def broadcast(self, raw: bytes) -> str:
        """Send a signed transaction; sending the same one again is harmless (the node either
        knows it already or has mined it: both are fine, the caller reads the outcome)."""
        try:
            return "0x" + self.w3.eth.send_raw_transaction(raw).hex()
        except Web3RPCError as exc:
            message = str(exc).lower()
            if any(known in message for known in _ALREADY_THERE):
                return "0x" + Web3.keccak(raw).hex()
            raise ChainError(f"the node refused the transaction: {exc}") from exc

    def receipt(self, tx_hash: str) -> TxReceipt | None:
        try:
            return self.w3.eth.get_transaction_receipt(HexStr(tx_hash))
        except TransactionNotFound:
            return None

    def knows(self, tx_hash: str) -> bool:
        try:
            self.w3.eth.get_transaction(HexStr(tx_hash))
        except TransactionNotFound:
            return False
        return True

    def checkpoint_count(self, address: str, block: BlockIdentifier = "latest") -> int:
        return int(self.registry(address).functions.checkpointCount().call(block_identifier=block))

    def checkpoint_at(
        self, address: str, number: int, block: BlockIdentifier = "latest"
    ) -> tuple[int, bytes]:
        """(tree size, root) of the contract's checkpoint ``number`` as of ``block``; the number
        must be below ``checkpoint_count`` at the same block (the contract reverts otherwise)."""
        call = self.registry(address).functions.getCheckpoint(number)
        size, root, *_ = call.call(block_identifier=block)
        return int(size), bytes(root)

    def find_checkpoint(
        self, address: str, tree_size: int, block: BlockIdentifier = "latest"
    ) -> tuple[int, bytes] | None:
        """(number, root) of the contract's checkpoint for this tree size as of ``block``, if
        it had one then (both reads at that block, so they agree with each other)."""
        registry = self.registry(address)
        found, number = registry.functions.checkpointNumberForTreeSize(tree_size).call(
            block_identifier=block
        )
        if not found:
            return None
        _, root, *_ = registry.functions.getCheckpoint(number).call(block_identifier=block)
        return int(number), bytes(root)

    def checkpoint(self, address: str, number: int) -> OnChainCheckpoint | None:
        """Checkpoint ``number`` of the contract at ``address``; None if it has no such
        checkpoint. ChainError when the node cannot answer."""
        try:
            registry = self.registry(address)
            if number >= int(registry.functions.checkpointCount().call()):
                return None
            tree_size, root, closes_at, methodology, totals, anchored_at = (
                registry.functions.getCheckpoint(number).call()
            )
        except Exception as exc:  # unreachable, timeout, no contract there: not answerable
            raise ChainError(f"reading checkpoint {number} of {address} failed: {exc}") from exc
        return OnChainCheckpoint(
            number=number,
            tree_size=int(tree_size),
            root=bytes(root),
            closes_at=int(closes_at),
            methodology_hash=bytes(methodology),
            totals=tuple((int(b), int(r), int(g)) for b, r, g in totals),
            anchored_at=int(anchored_at),
        )
