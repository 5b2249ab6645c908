"""A local chain for anchoring tests: an Anvil node that can be stopped and started again."""

from pathlib import Path

from eth_account.signers.local import LocalAccount

from app.ledger.chain import ChainClient, ChainConfig
from tests.anvil import AnvilNode, run_anvil


class Chain:
    """An Anvil node that can be stopped and started again with the same state."""

    def __init__(self, state: Path, signer: LocalAccount | None = None) -> None:
        self.state = state
        self.node: AnvilNode | None = None
        self._ctx: object | None = None
        self.signer = signer

    def start(self) -> AnvilNode:
        self._ctx = run_anvil(state=self.state)
        self.node = self._ctx.__enter__()  # type: ignore[attr-defined]
        if self.signer is None:
            self.signer = self.node.funded_account()
        return self.node

    def stop(self) -> None:
        if self._ctx is not None:
            self._ctx.__exit__(None, None, None)  # type: ignore[attr-defined]
        self._ctx = self.node = None

    def client(self) -> ChainClient:
        url = self.node.url if self.node else "http://127.0.0.1:1"  # a stopped node: refused
        assert self.signer is not None
        return ChainClient(
            ChainConfig(
                rpc_url=url,
                expected_chain_id=31337,
                private_key=self.signer.key.hex(),
                gas_price_wei=None,
                gas_limit=None,
                confirmations=1,
                timeout_s=5,
            )
        )
