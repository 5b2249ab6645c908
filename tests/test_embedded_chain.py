"""gbt-server and gbt-demo with their own local chain, as real processes: every way they stop
(SIGTERM, SIGINT, a hard kill of the server or of the demo) stops the chain and frees its port,
and a port already taken (by a plain listener, or by a chain an earlier run left behind) is
refused with a message naming it."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from app.core.processes import port_taken
from app.ledger.anvil import HOST, anvil_args, start_anvil, stop_anvil
from tests.live_server import free_port

REPO = Path(__file__).resolve().parents[1]
WAIT_S = 90.0  # an upper bound on start-up and shutdown, never an assertion on speed


def service_env(tmp_path: Path, api_port: int, chain_port: int) -> dict[str, str]:
    """The embedded default (SQLite, its own chain) under tmp_path, on these ports."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GBT_")}
    return env | {
        "GBT_DATABASE_URL": f"sqlite:///{tmp_path / 'gbt.db'}",
        "GBT_DATA_DIR": str(tmp_path / "var"),
        "GBT_PORT": str(api_port),
        "GBT_CHAIN_EMBEDDED_PORT": str(chain_port),
    }


class Service:
    def __init__(self, tmp_path: Path, module: str, *args: str) -> None:
        self.data_dir = tmp_path / "var"
        self.api_port, self.chain_port = free_port(), free_port()
        env = service_env(tmp_path, self.api_port, self.chain_port)
        self.output = tmp_path / f"{module}.out"
        with self.output.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", module, *args],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_until_serving(self) -> None:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.text()
            try:
                api = httpx.get(f"http://{HOST}:{self.api_port}/healthz", timeout=2)
                if api.status_code == 200 and port_taken(HOST, self.chain_port):
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"not serving within {WAIT_S} s:\n{self.text()}")

    def exit_code(self) -> int:
        return self.process.wait(timeout=WAIT_S)


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def anvil_child(pid: int) -> int:
    [anvil] = [c for c in children(pid) if "anvil" in Path(f"/proc/{c}/cmdline").read_text()]
    return anvil


def running(pid: int) -> bool:
    """Alive and not a zombie waiting for its parent."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_gone(pid: int) -> bool:
    deadline = time.monotonic() + WAIT_S
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not running(pid)


@contextmanager
def cleanup(*pids: int) -> Iterator[None]:
    """Whatever the test finds, leave no process behind."""
    try:
        yield
    finally:
        for pid in pids:
            if running(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_server_stops_its_chain_however_it_is_stopped(tmp_path: Path, sig: int) -> None:
    server = Service(tmp_path, "app.cli")
    with cleanup(server.process.pid):
        server.wait_until_serving()
        anvil = anvil_child(server.process.pid)
        with cleanup(anvil):
            server.process.send_signal(sig)
            server.exit_code()
            assert wait_gone(anvil), f"the chain outlived gbt-server ({sig!r})"
            assert not port_taken(HOST, server.chain_port)
            if sig != signal.SIGKILL:
                assert "local chain stopped" in server.text()
            assert (server.data_dir / "anvil-state.json").exists()  # written as it stopped


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_demo_stops_the_server_and_its_chain(tmp_path: Path, sig: int) -> None:
    demo = Service(tmp_path, "simulator.demo", "--no-simulator")
    with cleanup(demo.process.pid):
        demo.wait_until_serving()
        [server] = children(demo.process.pid)
        anvil = anvil_child(server)
        with cleanup(server, anvil):
            demo.process.send_signal(sig)
            demo.exit_code()
            assert wait_gone(server) and wait_gone(anvil)
            assert not port_taken(HOST, demo.chain_port)


def test_server_refuses_a_port_a_plain_listener_holds(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind((HOST, 0))
        listener.listen()
        assert_refused(tmp_path, listener.getsockname()[1])


def test_server_refuses_a_chain_an_earlier_run_left_running(tmp_path: Path) -> None:
    """A node already on the port (an orphan) would be used silently with a state this run
    never writes: refused."""
    port = free_port()
    orphan = start_anvil(port, anvil_args(), subprocess.DEVNULL)
    assert orphan is not None
    try:
        assert_refused(tmp_path, port)
    finally:
        stop_anvil(orphan)


def assert_refused(tmp_path: Path, chain_port: int) -> None:
    env = service_env(tmp_path, free_port(), chain_port)
    done = subprocess.run(
        [sys.executable, "-m", "app.cli"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
    )
    assert done.returncode != 0
    assert f"port {chain_port} is already in use" in done.stderr, done.stderr
    assert "GBT_CHAIN_EMBEDDED_PORT" in done.stderr
