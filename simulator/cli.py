"""``gbt-simulate``: run a simulated meter fleet against the service.

    gbt-simulate backfill [--config FLEET.toml] [--url URL] [--faults all|none|file|KIND,...]
    gbt-simulate live --speed 60 ...
    gbt-simulate backfill --transport mqtt --mqtt-url mqtt://127.0.0.1:1883


Backfill sends the fleet's history (a baseline year and the reporting days, up to now) as fast
as the service takes it, then configures the benchmarks and stops. Live does the same first,
then keeps sending each interval as it ends, in simulated time ``--speed`` times faster than the
wall clock but never ahead of it. Ctrl-C stops cleanly; running again resumes from the state
file. See docs/simulator.md.
"""

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from simulator.config import ConfigError, fault_rates, load
from simulator.mqtt_transport import MqttTransport
from simulator.runner import Simulator
from simulator.state import SimulatorError
from simulator.transport import GaveUpError, Transport

DEMO_FLEET = Path(__file__).parent / "fleets" / "demo.toml"
log = logging.getLogger("simulator")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gbt-simulate", description=__doc__.split("\n\n")[0])
    p.add_argument("mode", choices=("backfill", "live"))
    p.add_argument("--config", type=Path, default=DEMO_FLEET, help="fleet file (TOML)")
    p.add_argument("--url", default="http://127.0.0.1:8000", help="the service's base URL")
    p.add_argument(
        "--transport",
        choices=("http", "mqtt"),
        default="http",
        help="how batches travel: POST to the service, or published to the MQTT broker the "
        "service subscribes to (provisioning is always HTTP)",
    )
    p.add_argument(
        "--mqtt-url", default="mqtt://127.0.0.1:1883", help="the broker, with --transport mqtt"
    )
    p.add_argument(
        "--mqtt-topic-prefix", default="gbt/v1", help="the service's GBT_MQTT_TOPIC_PREFIX"
    )
    p.add_argument(
        "--admin-token-file",
        type=Path,
        default=Path("var/admin-token"),
        help="file holding the admin token (or set GBT_ADMIN_TOKEN)",
    )
    p.add_argument(
        "--state-dir",
        type=Path,
        default=Path("var/simulator"),
        help="state (meter keys, sequence numbers, progress) and ground truth",
    )
    p.add_argument(
        "--faults",
        default="none",
        help="none (default), all, file (the fleet file's [faults] rates), or kinds: "
        "duplicate,gap,late,out_of_order,correction,malformed,bad_signature,dropped_connection",
    )
    p.add_argument(
        "--speed", type=float, default=1.0, help="live mode: simulated seconds per second"
    )
    p.add_argument(
        "--replay-hours",
        type=float,
        default=0.0,
        help="live mode: backfill only up to this many hours ago, then replay them at --speed",
    )
    p.add_argument(
        "--batch-intervals", type=int, default=336, help="intervals per batch (336: a week)"
    )
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def admin_token(path: Path) -> str:
    import os

    token = os.environ.get("GBT_ADMIN_TOKEN")
    if token:
        return token
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise SystemExit(
            f"no admin token: set GBT_ADMIN_TOKEN or --admin-token-file ({exc})"
        ) from exc


def run(args: argparse.Namespace, stop: threading.Event) -> int:
    try:
        config = load(args.config)
        rates = fault_rates(config, args.faults)
    except (ConfigError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    token = admin_token(args.admin_token_file)
    transport = (
        MqttTransport(args.url, args.mqtt_url, token, args.mqtt_topic_prefix)
        if args.transport == "mqtt"
        else Transport(args.url, token)
    )
    sim = Simulator(
        config,
        transport,
        args.state_dir / "state.json",
        rates,
        batch_intervals=args.batch_intervals,
    )
    truth = args.state_dir / "ground-truth.json"
    try:
        sim.provision()
        log.info("fleet provisioned: %d meters; backfilling", len(sim.world.meters))
        replay_s = int(args.replay_hours * 3600) if args.mode == "live" else 0
        sim.backfill(sim.last_due_s() - replay_s, stop)
        sim.write_truth(truth)
        log.info(
            "backfill done: %d batches, %d readings so far",
            sim.state.batches_sent,
            sim.state.readings_sent,
        )
        if args.mode == "live":
            sim.live(args.speed, stop, truth)
    except (SimulatorError, GaveUpError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        sim.save(force=True)
        sim.write_truth(truth)
        transport.close()
    return 0


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sys.exit(run(args, stop))


if __name__ == "__main__":
    main()
