"""Provisioning through the admin API: the bond, the assets, the allocations and the meters (with
each meter's public key), then the assets' benchmark configurations once the history is in.
Idempotent: the admin API answers 200 with the stored entity for the same body, so every run
provisions again and picks up the ids."""

from pathlib import Path
from typing import Any

from app.pure.signing import public_key_hex
from simulator.config import AssetSpec, FleetConfig
from simulator.state import SimulatorError, State
from simulator.transport import Transport
from simulator.world import World, iso


def _create(api: Transport, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.request("POST", path, json=body, admin=True)
    if response.status_code not in (200, 201):
        raise SimulatorError(f"POST {path}: {response.status_code} {response.text}")
    result: dict[str, Any] = response.json()
    return result


def _put(api: Transport, path: str, body: dict[str, Any]) -> None:
    response = api.request("PUT", path, json=body, admin=True)
    if response.status_code != 200:
        raise SimulatorError(f"PUT {path}: {response.status_code} {response.text}")


def _report_details(api: Transport, asset: AssetSpec, asset_id: int, allocation_id: int) -> None:
    """What the issuer declares for its reports (a PUT replaces the set: safe on every run)."""
    details = asset.report
    renewable = asset.kind == "renewable_facility"
    _put(
        api,
        f"/v1/admin/assets/{asset_id}/report-details",
        {
            "location": details.get("location"),
            "description": details.get("description"),
            "capacity_kw": f"{asset.capacity_kw:.3f}" if renewable else None,
        },
    )
    default = "renewable_energy" if renewable else "green_buildings"
    _put(
        api,
        f"/v1/admin/allocations/{allocation_id}/report-details",
        {
            "eligible_category": details.get("eligible_category", default),
            **{k: v for k, v in details.items() if k.startswith("expected_")},
        },
    )


def provision(
    api: Transport, config: FleetConfig, world: World, state: State, state_path: Path
) -> None:
    """Bond, assets, allocations and meters; their ids go into ``state`` (``state_path`` is only
    named in the error when a meter is registered with another key)."""
    c, d, s = config, world.dates, state
    start = d.reporting_start
    bond = _create(
        api,
        "/v1/admin/bonds",
        {
            "code": c.bond.code,
            "name": c.bond.name,
            "issuer": c.bond.issuer,
            "currency": c.bond.currency,
            "amount_issued": c.bond.amount_issued,
            "issue_date": start.isoformat(),
            "maturity_date": start.replace(year=start.year + c.bond.maturity_years).isoformat(),
        },
    )
    s.ids["bond"] = bond["id"]
    for a in c.assets:
        body: dict[str, Any] = {
            "code": a.code,
            "name": a.name,
            "kind": a.kind,
            "grid_region": c.grid_region,
            "timezone": c.timezone,
        }
        if a.kind == "building":
            body["floor_area_m2"] = f"{a.floor_area_m2:.2f}"
        else:
            body["commissioning_date"] = d.history_start.isoformat()
        s.ids[f"asset:{a.code}"] = _create(api, "/v1/admin/assets", body)["id"]
    for a in c.assets:
        if a.financed_share is not None:
            allocation = _create(
                api,
                "/v1/admin/allocations",
                {
                    "bond_id": s.ids["bond"],
                    "asset_id": s.ids[f"asset:{a.code}"],
                    "amount_allocated": a.amount_allocated,
                    "financing_share": a.financed_share,
                },
            )
            _report_details(api, a, s.ids[f"asset:{a.code}"], allocation["id"])
    _put(
        api,
        f"/v1/admin/bonds/{s.ids['bond']}/report-details",
        {"unallocated_held_as": c.bond.unallocated_held_as},
    )
    for spec in world.meters:
        meter = s.meters[spec.device_id]
        response = api.request(
            "POST",
            "/v1/admin/meters",
            json={
                "asset_id": s.ids[f"asset:{spec.asset_code}"],
                "device_id": spec.device_id,
                "quantity": spec.quantity,
                "interval_s": spec.interval_s,
                "public_key_hex": public_key_hex(meter.key()),
                # The backfill starts with the baseline year: the meter was there then.
                "installed_at": iso(world.day_start_s(d.history_start)),
            },
            admin=True,
        )
        if response.status_code == 409:
            differing = sorted(f["field"] for f in response.json()["error"]["details"])
            raise SimulatorError(
                f"meter {spec.device_id} is registered with other values "
                f"({', '.join(differing)}): this state file ({state_path}) is not the "
                "one it was provisioned with. Use that one, or a fresh database"
            )
        if response.status_code not in (200, 201):
            raise SimulatorError(f"meter {spec.device_id}: {response.status_code} {response.text}")
        meter.meter_id = response.json()["id"]
        if meter.cursor_s is None:
            meter.cursor_s = world.day_start_s(d.history_start)


def configure_benchmarks(api: Transport, config: FleetConfig, world: World, state: State) -> None:
    """After the history is in: a benchmark configured first would make the service finalise
    the past days without their data, then revise every one of them as it arrived."""
    d, s = world.dates, state
    for a in config.assets:
        params: dict[str, Any]
        if a.benchmark == "baseline":
            temperature = world.temperature_meter(a.code)
            assert temperature is not None
            params = {
                "method": "baseline",
                "baseline_start": d.history_start.isoformat(),
                "temperature_meter_id": s.meters[temperature.device_id].meter_id,
            }
        elif a.benchmark == "intensity":
            params = {"method": "intensity", "building_type": a.building_type}
        else:
            params = {"method": "generation"}
        _create(
            api,
            f"/v1/admin/assets/{s.ids[f'asset:{a.code}']}/benchmarks",
            {"effective_from": d.reporting_start.isoformat(), "params": params},
        )
    s.benchmarks_configured = True
