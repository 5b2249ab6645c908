"""A local Anvil node (Foundry's EVM chain), for the embedded mode of `make run` and for tests.

The binary comes from the pinned npm package in contracts/ (`make contracts` / `make run`
install it). The node runs the Berlin EVM, like the production chain (ibet for Fin,
GoQuorum/QBFT): no PUSH0 and no EIP-1559. With ``--state`` the chain is loaded from that file
at start and written back when the node stops, so a restart keeps the chain; with
``state_interval_s`` also every that many seconds, so a hard kill (which writes nothing) loses
at most the blocks of the last interval.
"""

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

from app.core.processes import port_taken, stop_with_parent

REPO = Path(__file__).resolve().parents[2]
ANVIL = REPO / "contracts" / "node_modules" / ".bin" / "anvil"
CHAIN_ID = 31337
HOST = "127.0.0.1"
HARDFORK = "berlin"
START_TIMEOUT_S = 15.0
# Anvil's first default account: a publicly known key. DEVELOPMENT ONLY: it is used solely when
# the service runs its own local chain and no GBT_ANCHOR_PRIVATE_KEY is set.
DEV_PRIVATE_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


class AnvilUnavailableError(RuntimeError):
    pass


def anvil_binary() -> Path:
    if not os.access(ANVIL, os.X_OK):
        raise AnvilUnavailableError(
            f"Anvil is not installed ({ANVIL} is missing): run `make contracts` "
            "(npm ci in contracts/ installs the pinned Anvil binary, Linux x86-64)"
        )
    return ANVIL


def rpc(url: str, method: str, params: list[Any], timeout: float = 5.0) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        answer = json.loads(response.read())
    if "error" in answer:
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer["result"]


def anvil_args(
    chain_id: int = CHAIN_ID, state: Path | None = None, state_interval_s: int | None = None
) -> list[str]:
    args = ["--host", HOST, "--chain-id", str(chain_id), "--hardfork", HARDFORK, "--silent"]
    if state is not None:
        args += ["--state", str(state)]
        if state_interval_s is not None:
            args += ["--state-interval", str(state_interval_s)]
    return args


def start_anvil(
    port: int, args: list[str], log: IO[bytes] | int
) -> "subprocess.Popen[bytes] | None":
    """Starts Anvil and waits until it answers JSON-RPC; None if the port is taken or the node
    exited at start. The node gets SIGTERM (a graceful stop, writing its state) if this process
    dies, however it dies; an interruption while waiting for it stops it."""
    if port_taken(HOST, port):  # else another node there could answer in place of ours
        return None
    process = subprocess.Popen(
        [str(anvil_binary()), "--port", str(port), *args],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=stop_with_parent(signal.SIGTERM),
    )
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return None
            try:
                rpc(url, "eth_chainId", [], timeout=1.0)
                return process
            except (OSError, urllib.error.URLError):
                time.sleep(0.05)
    except BaseException:  # SIGINT or SIGTERM (SystemExit) during the wait
        stop_anvil(process)
        raise
    stop_anvil(process)
    raise AnvilUnavailableError(f"Anvil did not answer on {url} within {START_TIMEOUT_S} s")


def stop_anvil(process: "subprocess.Popen[bytes]") -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # Anvil writes --state on a graceful stop
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
