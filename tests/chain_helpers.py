"""A local chain for anchoring tests: an Anvil node that can be stopped (gracefully, writing its
state) or killed (SIGKILL: only its last periodic state dump survives), and started again."""

from pathlib import Path

from eth_account.signers.local import LocalAccount
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.ledger.chain import ChainClient, ChainConfig
from app.ledger.models import ChainDeployment, Checkpoint
from tests.anvil import AnvilNode, run_anvil


class Chain:
    """An Anvil node that can be stopped and started again with the same state file."""

    def __init__(
        self, state: Path, signer: LocalAccount | None = None, extra_args: tuple[str, ...] = ()
    ) -> None:
        self.state = state
        self.node: AnvilNode | None = None
        self._ctx: object | None = None
        self.signer = signer
        self.extra_args = extra_args
        self.port: int | None = None

    @property
    def block_time(self) -> str | None:
        """The interval of interval mining (``--block-time``), None with automine."""
        args = self.extra_args
        return args[args.index("--block-time") + 1] if "--block-time" in args else None

    def start(self) -> AnvilNode:
        # Back on the port it had, so an app configured with its URL reaches it again.
        self._ctx = run_anvil(state=self.state, extra_args=self.extra_args, port=self.port)
        self.node = self._ctx.__enter__()  # type: ignore[attr-defined]
        self.port = self.node.port
        if self.signer is None:
            self.signer = self.node.funded_account()
        elif not self.node.web3().eth.get_balance(self.signer.address):  # a fresh chain
            self.node.rpc("anvil_setBalance", self.signer.address, hex(100 * 10**18))
        return self.node

    def stop(self) -> None:
        if self._ctx is not None:
            self._ctx.__exit__(None, None, None)  # type: ignore[attr-defined]
        self._ctx = self.node = None

    def kill(self) -> None:
        """SIGKILL: the node writes nothing more; its state file is whatever it last dumped."""
        if self.node is not None:
            self.node.process.kill()
            self.node.process.wait()
        self.stop()

    def pause_mining(self) -> None:
        """No block until ``evm_mine`` or ``resume_mining``."""
        assert self.node is not None
        self.node.rpc("evm_setAutomine", False)
        if self.block_time is not None:
            self.node.rpc("evm_setIntervalMining", 0)

    def resume_mining(self) -> None:
        assert self.node is not None
        if self.block_time is not None:
            self.node.rpc("evm_setIntervalMining", int(self.block_time))
        else:
            self.node.rpc("evm_setAutomine", True)

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

    def checkpoints(self, address: str) -> list[tuple[int, bytes]]:
        """(tree size, root) of every checkpoint the contract holds, by number."""
        w3 = self.client().w3
        block = w3.eth.block_number  # every read at one block
        registry = self.client().registry(address).functions
        count = registry.checkpointCount().call(block_identifier=block)
        return [
            (size, bytes(root))
            for size, root, *_ in (
                registry.getCheckpoint(n).call(block_identifier=block) for n in range(count)
            )
        ]

    def assert_agrees_with(self, session: Session) -> None:
        """The database and the contract agree exactly: every confirmed checkpoint is on the
        contract in use, with the contract's number, tree size and root; the contract holds
        no checkpoint without a confirmed row; no number twice; nothing left open; no confirmed
        transaction reverted."""
        client = self.client()
        deployment = session.get(ChainDeployment, client.chain_id)
        assert deployment is not None, "no contract deployed"
        rows = list(session.scalars(select(Checkpoint).order_by(Checkpoint.id)))
        table = "\n".join(
            f"{c.id} {c.status} n={c.number} size={c.tree_size} nonce={c.nonce} {c.error}"
            for c in rows
        )
        confirmed = [c for c in rows if c.status == "confirmed"]
        assert {c.contract_address for c in confirmed} <= {deployment.contract_address}, table
        held = self.checkpoints(deployment.contract_address)
        assert sorted((c.number, c.tree_size, c.root) for c in confirmed) == [
            (number, size, root) for number, (size, root) in enumerate(held)
        ], f"{table}\non chain: {[size for size, _ in held]}"
        assert [c.id for c in rows if c.status in ("pending", "sent")] == [], table
        for cp in confirmed:  # (a node restarted from a torn state dump can hold a checkpoint
            receipt = client.receipt(cp.tx_hash)  # without the receipt of its transaction)
            assert receipt is None or receipt["status"] == 1, f"{cp.tx_hash}\n{table}"
