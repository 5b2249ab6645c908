"""A real Anvil node (Foundry's local EVM chain) for tests: ``run_anvil()`` starts one on a free
loopback port and stops it on exit.

The binary comes from the pinned npm package in contracts/ (`make contracts` installs it). The
node runs the Berlin EVM, like the production chain (ibet for Fin, GoQuorum/QBFT): no PUSH0 and no
EIP-1559, so transactions are legacy (gasPrice) ones. With ``state=path`` the chain is loaded from
that file at start and written back when the node stops, so a test can restart "the same" chain.
"""

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3

REPO = Path(__file__).resolve().parents[1]
ANVIL = REPO / "contracts" / "node_modules" / ".bin" / "anvil"
CHAIN_ID = 31337
HARDFORK = "berlin"
START_TIMEOUT_S = 15.0


class AnvilUnavailableError(RuntimeError):
    pass


@dataclass(frozen=True)
class AnvilNode:
    url: str
    port: int
    chain_id: int
    process: "subprocess.Popen[bytes]"

    def web3(self) -> Web3:
        return Web3(HTTPProvider(self.url, request_kwargs={"timeout": 10}))

    def rpc(self, method: str, *params: Any) -> Any:
        return _rpc(self.url, method, list(params))

    def funded_account(self, ether: int = 100) -> LocalAccount:
        """A new random key with a balance (anvil_setBalance), so tests never share nonces."""
        account: LocalAccount = Account.create()
        self.rpc("anvil_setBalance", account.address, hex(ether * 10**18))
        return account


def anvil_binary() -> Path:
    if not os.access(ANVIL, os.X_OK):
        raise AnvilUnavailableError(
            f"Anvil is not installed ({ANVIL} is missing): run `make contracts` "
            "(npm ci in contracts/ installs the pinned Anvil binary, Linux x86-64)"
        )
    return ANVIL


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _rpc(url: str, method: str, params: list[Any], timeout: float = 5.0) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        answer = json.loads(response.read())
    if "error" in answer:
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer["result"]


def _stop(process: "subprocess.Popen[bytes]") -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # Anvil writes --state on a graceful stop
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _start(port: int, args: list[str], log: Any) -> "subprocess.Popen[bytes] | None":
    """Starts Anvil and waits until it answers JSON-RPC; None if it exited (port taken)."""
    process = subprocess.Popen(
        [str(anvil_binary()), "--port", str(port), *args],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return None
        try:
            _rpc(url, "eth_chainId", [], timeout=1.0)
            return process
        except (OSError, urllib.error.URLError):
            time.sleep(0.05)
    _stop(process)
    raise AnvilUnavailableError(f"Anvil did not answer on {url} within {START_TIMEOUT_S} s")


@contextmanager
def run_anvil(
    *,
    state: Path | None = None,
    chain_id: int = CHAIN_ID,
    hardfork: str = HARDFORK,
    extra_args: tuple[str, ...] = (),
) -> Iterator[AnvilNode]:
    args = ["--host", "127.0.0.1", "--chain-id", str(chain_id), "--hardfork", hardfork]
    args += ["--silent", *extra_args]
    if state is not None:
        args += ["--state", str(state)]
    with tempfile.TemporaryFile() as log:
        for _attempt in range(5):
            port = _free_port()
            process = _start(port, args, log)
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
            _stop(process)
