"""A real Anvil node (Foundry's local EVM chain) for tests: ``run_anvil()`` starts one on a free
loopback port and stops it on exit.

The binary comes from the pinned npm package in contracts/ (`make contracts` installs it). The
node runs the Berlin EVM, like the production chain (ibet for Fin, GoQuorum/QBFT): no PUSH0 and no
EIP-1559, so transactions are legacy (gasPrice) ones. With ``state=path`` the chain is loaded from
that file at start and written back when the node stops, so a test can restart "the same" chain.
``send`` signs and mines a transaction; ``custom_error`` decodes a contract's custom error.
"""

import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import decode as abi_decode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ABI
from web3 import HTTPProvider, Web3
from web3.exceptions import ContractCustomError
from web3.types import TxReceipt

from app.ledger.anvil import (
    CHAIN_ID,
    HARDFORK,
    AnvilUnavailableError,
    anvil_args,
    rpc,
    start_anvil,
    stop_anvil,
)
from app.ledger.contract import send_transaction


@dataclass(frozen=True)
class AnvilNode:
    url: str
    port: int
    chain_id: int
    process: "subprocess.Popen[bytes]"

    def web3(self) -> Web3:
        return Web3(HTTPProvider(self.url, request_kwargs={"timeout": 10}))

    def rpc(self, method: str, *params: Any) -> Any:
        return rpc(self.url, method, list(params))

    def funded_account(self, ether: int = 100) -> LocalAccount:
        """A new random key with a balance (anvil_setBalance), so tests never share nonces."""
        account: LocalAccount = Account.create()
        self.rpc("anvil_setBalance", account.address, hex(ether * 10**18))
        return account


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def run_anvil(
    *,
    state: Path | None = None,
    chain_id: int = CHAIN_ID,
    hardfork: str = HARDFORK,
    extra_args: tuple[str, ...] = (),
    port: int | None = None,
) -> Iterator[AnvilNode]:
    """``port``: the one to try first (a restarted node keeps the URL the app was given)."""
    args = [*anvil_args(chain_id, state), *extra_args]
    if hardfork != HARDFORK:
        args[args.index("--hardfork") + 1] = hardfork
    with tempfile.TemporaryFile() as log:
        for attempt in range(5):
            port = port if attempt == 0 and port is not None else _free_port()
            process = start_anvil(port, args, log)
            if process is not None:
                break
        else:
            log.seek(0)
            output = log.read().decode(errors="replace")[-2000:]
            raise AnvilUnavailableError(f"Anvil failed to start: {output}")
        node = AnvilNode(f"http://127.0.0.1:{port}", port, chain_id, process)
        try:
            yield node
        finally:
            stop_anvil(process)


def send(w3: Web3, account: LocalAccount, call: Any, gas: int | None = None) -> TxReceipt:
    """Signs and sends a legacy transaction; with ``gas`` it skips estimation, so a transaction
    that reverts is mined anyway (status 0)."""
    return send_transaction(w3, account, call, gas=gas)


def custom_error(excinfo: pytest.ExceptionInfo[ContractCustomError], abi: ABI) -> tuple[Any, ...]:
    """(name, *args) of the custom error, one of those ``abi`` declares; addresses checksummed."""
    errors = {
        bytes(Web3.keccak(text=f"{e['name']}({','.join(i['type'] for i in e['inputs'])})"))[:4]: (
            e["name"],
            [i["type"] for i in e["inputs"]],
        )
        for e in abi
        if e["type"] == "error"
    }
    data = bytes.fromhex(str(excinfo.value.data).removeprefix("0x"))
    name, types = errors[data[:4]]
    values = abi_decode(types, data[4:])
    return (
        name,
        *(
            Web3.to_checksum_address(v) if t == "address" else v
            for t, v in zip(types, values, strict=True)
        ),
    )
