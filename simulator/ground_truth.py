"""The ground-truth file: what really happened, for tests to check the service against. Per asset
and local day the true energy, what the service should hold, the counterfactual (the building
without its retrofit) and the true reduction; what was never sent; every fault injected and the
status it got."""

import json
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from simulator.config import FleetConfig
from simulator.state import State
from simulator.world import World


def ground_truth(config: FleetConfig, world: World, state: State, retries: int) -> dict[str, Any]:
    """The truth of the run so far (``retries``: the transport's, network errors and 5xx)."""
    s, d = state, world.dates
    specs = {m.device_id: m for m in world.meters}
    assets: dict[str, Any] = {}
    for a in config.assets:
        spec = world.energy_meter(a.code)
        meter = s.meters[spec.device_id]
        gaps = set(meter.gaps)
        days: dict[str, Any] = {}
        day = d.history_start
        while (
            meter.cursor_s is not None
            and world.day_start_s(day + timedelta(days=1)) <= meter.cursor_s
        ):
            values = world.day(spec, day)
            energy = sum(values.values)
            missing = [i for i, st in enumerate(values.starts) if st in gaps]
            entry: dict[str, Any] = {
                "energy_wh": energy,
                "reported_wh": energy - sum(values.values[i] for i in missing),
                "missing_intervals": len(missing),
                "intervals": len(values.starts),
            }
            if a.kind == "building":
                counterfactual = sum(values.counterfactual or values.values)
                entry["counterfactual_wh"] = counterfactual
                entry["reduction_wh"] = counterfactual - energy
            else:
                entry["reduction_wh"] = energy  # generation displaces grid electricity
            days[day.isoformat()] = entry
            day += timedelta(days=1)
        assets[a.code] = {
            "asset_id": s.ids.get(f"asset:{a.code}"),
            "kind": a.kind,
            "benchmark": a.benchmark,
            "retrofit": a.retrofit,
            "financed_share": a.financed_share,
            "days": days,
        }
    counts: dict[str, int] = {}
    for item in s.faults:
        counts[item.kind] = counts.get(item.kind, 0) + 1
    return {
        "note": "simulated data (development only)",
        "seed": config.seed,
        "interval_s": config.interval_s,
        "timezone": config.timezone,
        "reference_day": s.reference_day,
        "history_start": d.history_start.isoformat(),
        "reporting_start": d.reporting_start.isoformat(),
        "bond_id": s.ids.get("bond"),
        "meters": {
            k: {
                "meter_id": m.meter_id,
                "asset_code": specs[k].asset_code,
                "quantity": specs[k].quantity,
                "sent_until": m.cursor_s,
                "gaps": sorted(m.gaps),
            }
            for k, m in s.meters.items()
        },
        "batches_sent": s.batches_sent,
        "readings_sent": s.readings_sent,
        "retries": retries,
        "fault_counts": counts,
        "faults": [asdict(f) for f in s.faults],
        "assets": assets,
    }


def write_ground_truth(path: Path, truth: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(truth, indent=1))
    tmp.replace(path)
