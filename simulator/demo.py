"""``gbt-demo`` (what ``make run`` starts): the service with its local chain and scheduler, and
the demo fleet feeding it.

1. ``gbt-server`` in a process group of its own (so that Ctrl-C reaches this process only and
   the shutdown happens in order: the fleet first, then the API, then the chain it started);
2. the demo fleet (simulator/fleets/demo.toml): provisioned through the admin API, its history
   backfilled (the office's pre-retrofit year and the reporting days, so past days are final
   and anchored within the first checkpoints), then live, the last hours replayed at
   ``--speed``; meanwhile, in a thread of its own, the solar plant's first full month is
   credited and part of it retired (simulator/credits.py);
3. Ctrl-C or SIGTERM: the fleet stops between two batches and saves its state, the server
   stops (and with it Anvil, which writes its state). The next run resumes the same data and
   chain. Should this process die without that (SIGKILL), the kernel sends the server SIGTERM,
   which stops it and its chain the same way.

Everything under the data directory (GBT_DATA_DIR, default ./var). Development only.
"""

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType

import httpx
from eth_account import Account

from app.core.processes import stop_with_parent
from app.core.security import VERIFIER_KEY_FILE
from app.core.settings import get_settings
from simulator.bond_token import DEMO_INVESTOR_KEYS, issue_demo_token, issuer_key
from simulator.cli import DEMO_FLEET
from simulator.config import fault_rates, load
from simulator.credits import load_plan, run_credits
from simulator.runner import Simulator
from simulator.state import SimulatorError
from simulator.transport import GaveUpError, Transport

log = logging.getLogger("demo")
# The demo anchors every 20 s (production: hourly or daily) so that a newcomer sees a
# confirmed checkpoint with the bond's totals within the first minute or two.
DEMO_ANCHOR_INTERVAL_S = "20"
SERVER_START_TIMEOUT_S = 120.0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gbt-demo", description="The service plus the demo fleet.")
    p.add_argument("--config", type=Path, default=DEMO_FLEET, help="fleet file (TOML)")
    p.add_argument("--speed", type=float, default=60.0, help="live replay speed")
    p.add_argument(
        "--replay-hours", type=float, default=3.0, help="recent hours replayed live at --speed"
    )
    p.add_argument("--faults", default="none", help="fault injection (see gbt-simulate --help)")
    p.add_argument("--no-simulator", action="store_true", help="run only the service")
    return p


def _wait_until_up(url: str, server: "subprocess.Popen[bytes]", stop: threading.Event) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if stop.is_set():  # Ctrl-C or SIGTERM while the server starts: stop it
            raise SystemExit(0)
        if server.poll() is not None:
            raise SystemExit(f"gbt-server exited with status {server.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"gbt-server did not answer on {url} within {SERVER_START_TIMEOUT_S} s")


def _stop_server(server: "subprocess.Popen[bytes]") -> int:
    if server.poll() is None:
        server.send_signal(signal.SIGINT)  # uvicorn's graceful stop; gbt-server then stops Anvil
        try:
            server.wait(timeout=40)
        except subprocess.TimeoutExpired:
            log.warning("gbt-server did not stop within 40 s: terminating it")
            server.terminate()
            server.wait(timeout=20)
    return server.returncode


def _print_urls(url: str, chain_port: int, data_dir: Path, dashboard: bool) -> None:
    lines = [
        "",
        "Green bond impact tracker: demo running (development only). Ctrl-C stops it.",
        f"  API docs:          {url}/docs",
        f"  investor API:      {url}/v1/investor/bonds",
        f"  checkpoints:       {url}/v1/investor/checkpoints",
    ]
    if dashboard:
        lines.append(f"  dashboard:         {url}/dashboard/")
    lines += [
        f"  local chain (RPC): http://127.0.0.1:{chain_port}",
        f"  admin token:       {data_dir}/admin-token   auditor key: {data_dir}/auditor-key",
        f"  simulator:         state and ground truth in {data_dir}/simulator/",
        "",
    ]
    print("\n".join(lines), flush=True)


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    os.environ.setdefault("GBT_ANCHOR_INTERVAL_S", DEMO_ANCHOR_INTERVAL_S)
    settings = get_settings()
    # The demo issuer's encryption key (development only), so the register export can decrypt.
    os.environ.setdefault("GBT_ISSUER_KEY_FILE", str(issuer_key(Path(settings.data_dir))))
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    url = f"http://{host}:{settings.port}"
    data_dir = Path(settings.data_dir)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if not stop.is_set():
            print("\nstopping: the fleet first, then the API and the chain ...", flush=True)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    server = (
        subprocess.Popen(  # SIGTERM if this process dies, even by SIGKILL: see stop_with_parent
            [sys.executable, "-m", "app.cli"],
            start_new_session=True,
            preexec_fn=stop_with_parent(signal.SIGTERM),
        )
    )
    status = 0
    try:
        _wait_until_up(url, server, stop)
        dashboard = httpx.get(f"{url}/dashboard/", timeout=5).status_code == 200
        _print_urls(url, settings.chain_embedded_port, data_dir, dashboard)
        if not args.no_simulator:
            status = _run_fleet(args, url, data_dir, stop, server)
        while not stop.is_set() and server.poll() is None:
            stop.wait(0.5)
    finally:
        code = _stop_server(server)
        if server.returncode not in (0, None) and not stop.is_set():
            status = status or code
    sys.exit(status)


def _run_fleet(
    args: argparse.Namespace,
    url: str,
    data_dir: Path,
    stop: threading.Event,
    server: "subprocess.Popen[bytes]",
) -> int:
    config = load(args.config)
    token = (data_dir / "admin-token").read_text().strip()
    token = os.environ.get("GBT_ADMIN_TOKEN") or token
    transport = Transport(url, token)
    sim = Simulator(
        config, transport, data_dir / "simulator" / "state.json", fault_rates(config, args.faults)
    )
    truth = data_dir / "simulator" / "ground-truth.json"

    def watch_server() -> None:  # the fleet has nothing to talk to once the server is gone
        server.wait()
        stop.set()

    threading.Thread(target=watch_server, daemon=True).start()
    try:
        sim.provision()
        _demo_token(transport, settings_chain_url(), sim.state.ids["bond"])
        started = time.monotonic()
        log.info("demo fleet provisioned (%d meters); sending its history", len(sim.world.meters))
        sim.backfill(sim.last_due_s() - int(args.replay_hours * 3600), stop)
        if not stop.is_set():
            log.info(
                "history sent in %.0f s (%d readings in all); live at %gx: results and "
                "checkpoints follow within a minute",
                time.monotonic() - started,
                sim.state.readings_sent,
                args.speed,
            )
            sim.write_truth(truth)
            _demo_credits(args.config, url, token, data_dir, sim, stop)
            sim.live(args.speed, stop, truth)
    except (SimulatorError, GaveUpError) as exc:
        if stop.is_set():
            return 0  # the server went away while we were stopping
        log.error("simulator: %s", exc)
        stop.set()
        return 1
    finally:
        sim.save(force=True)
        sim.write_truth(truth)
        transport.close()
    return 0


def settings_chain_url() -> str:
    settings = get_settings()
    return settings.chain_rpc_url or f"http://127.0.0.1:{settings.chain_embedded_port}"


def _demo_token(transport: Transport, chain_url: str, bond_id: int) -> None:
    """The demo bond as a token (simulator/bond_token.py). A failure is logged, not fatal: the
    impact demo runs without it."""
    key_file = Path(os.environ["GBT_ISSUER_KEY_FILE"])
    try:
        issue_demo_token(transport, chain_url, bond_id, key_file)
    except Exception as exc:
        log.warning("demo bond token: %s", exc)


def _demo_credits(
    fleet_file: Path, url: str, token: str, data_dir: Path, sim: Simulator, stop: threading.Event
) -> threading.Thread | None:
    """The fleet file's carbon credits (simulator/credits.py) in a thread of their own: the step
    waits for a month to be final and anchored and for checkpoints, which the live fleet must
    not wait for. A failure is logged, not fatal: the impact demo runs without it."""
    try:
        plan = load_plan(fleet_file)
        if plan is None:
            return None
        asset_id = sim.state.ids[f"asset:{plan.asset_code}"]
    except (ValueError, KeyError) as exc:
        log.warning("demo credits: the fleet file's [credits] table: %s", exc)
        return None
    # DEVELOPMENT ONLY: the server's development verifier, whose key it generated into the data
    # directory; with GBT_VERIFIER_API_KEYS set, a real verifier decides and the demo waits.
    dev_verifier = get_settings().verifier_api_keys is None
    key_file = data_dir / VERIFIER_KEY_FILE if dev_verifier else None
    investor = Account.from_key(DEMO_INVESTOR_KEYS[0]).address

    def run() -> None:
        api = Transport(url, token)
        try:
            done = run_credits(
                api, plan, asset_id, sim.dates.reporting_start, key_file, investor, stop
            )
            if done is not None:
                log.info(
                    "demo credits: %s to %s credited: %d t issued, %d retired, %d transferred",
                    done.first_day,
                    done.last_day,
                    done.issued_t,
                    done.retired_t,
                    done.transferred_t,
                )
        except Exception as exc:
            if not stop.is_set():
                log.warning("demo credits: %s", exc)
        finally:
            api.close()

    thread = threading.Thread(target=run, name="demo-credits", daemon=True)
    thread.start()
    return thread


if __name__ == "__main__":
    main()
