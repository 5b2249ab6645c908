"""Fixtures: every API test runs on SQLite and, when GBT_TEST_POSTGRES_URL is set, on
PostgreSQL too (each test in a schema of its own, dropped afterwards)."""

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import create_db_engine, session_factory
from app.core.settings import Settings
from app.ledger.jobs import run_sequencer
from app.main import create_app
from app.models import Base
from app.pure.signing import SignedReading, ValueKind, encode_batch, public_key_hex
from tests.chain_helpers import Chain

T = TypeVar("T")

# The property tests check behaviour, not speed: on pytest-xdist workers sharing the cores (and
# a loaded CI machine) an example's time says nothing, so no per-example deadline (an example
# of test_calc_results took 0.29 s against the default 0.2 s under load) and no too-slow check.
hypothesis_settings.register_profile(
    "gbt", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("gbt")

POSTGRES_URL = os.environ.get("GBT_TEST_POSTGRES_URL")
ADMIN_TOKEN = "test-admin-token-not-a-secret"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
AUDITOR_KEY = "test-auditor-key-not-a-secret"
AUDITOR = {"Authorization": f"Bearer {AUDITOR_KEY}"}
VERIFIER_NAME, VERIFIER_KEY = "test-verifier", "test-verifier-key-not-a-secret"
VERIFIER = {"Authorization": f"Bearer {VERIFIER_KEY}"}


def credentials(path: str) -> dict[str, str]:
    """The headers a route under ``path`` takes in tests: admin token, auditor key, or none."""
    if path.startswith("/v1/admin"):
        return ADMIN
    if path.startswith("/v1/audit"):
        return AUDITOR
    if path.startswith("/v1/verifier"):
        return VERIFIER
    return {}


requires_postgres = pytest.mark.skipif(
    not POSTGRES_URL,
    reason="set GBT_TEST_POSTGRES_URL (e.g. postgresql+psycopg://root@127.0.0.1:5432/test) "
    "to run the PostgreSQL tests; .ci/run sets it",
)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the marks (--dist loadgroup)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (`make test` runs the suite on several workers), the tests of a module
    that use a module-scoped fixture (a deployed contract, a dashboard site with weeks of
    readings, a browser) run on one worker, so the fixture is built once, not once per worker;
    every other test goes to whichever worker is free."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        fixture_defs = getattr(item, "_fixtureinfo", None)
        if fixture_defs is None:
            continue
        if any(
            defs and defs[-1].scope in ("module", "class", "package")
            for defs in fixture_defs.name2fixturedefs.values()
        ):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


@contextmanager
def fresh_schema(prefix: str = "t") -> Iterator[str]:
    """A new PostgreSQL schema, dropped afterwards; yields a URL whose search_path is it."""
    assert POSTGRES_URL
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin_engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin_engine.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin_engine.dispose()


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    """A URL whose connections see only a fresh, empty schema."""
    if not POSTGRES_URL:
        pytest.skip("GBT_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped")
    with fresh_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/test.sqlite3"
    url: str = request.getfixturevalue("postgres_schema_url")
    return url


def make_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "scheduler_enabled": False,
        "auditor_api_keys": AUDITOR_KEY,
        "verifier_api_keys": f"{VERIFIER_NAME}:{VERIFIER_KEY}",
        **overrides,
    }
    return Settings(database_url=database_url, data_dir=data_dir, admin_token=ADMIN_TOKEN, **values)


@pytest.fixture
def settings(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """A test that uses the ``chain`` fixture gets an app configured for that node, so what
    the app reads from the chain (anchored totals, the integrity check) comes from it."""
    if "chain" not in request.fixturenames:
        return make_settings(database_url, tmp_path)
    chain: Chain = request.getfixturevalue("chain")
    return make_settings(database_url, tmp_path, **chain_settings(chain))


def chain_settings(chain: Chain) -> dict[str, Any]:
    """Settings for an app on a running test chain: its node, its id and the anchoring key."""
    assert chain.node is not None and chain.signer is not None
    return {
        "chain_rpc_url": chain.node.url,
        "chain_id": chain.node.chain_id,
        "anchor_private_key": chain.signer.key.hex(),
        "web_chain_rpc_url": chain.node.url,
    }


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    engine = create_db_engine(settings.database_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    app = create_app(settings)
    with TestClient(app) as test_client:
        yield test_client
    app.state.engine.dispose()


class Fleet:
    """Registers assets and meters through the admin API and signs batches like a meter."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.keys: dict[int, Ed25519PrivateKey] = {}
        self._n = 0

    def asset(self, **fields: Any) -> dict[str, Any]:
        self._n += 1
        body = {
            "code": f"ASSET-{self._n}",
            "name": f"Building {self._n}",
            "kind": "building",
            "floor_area_m2": "5000",
            "grid_region": "JP-national",
            **fields,
        }
        response = self.client.post("/v1/admin/assets", json=body, headers=ADMIN)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def meter(
        self,
        quantity: str = "consumption",
        interval_s: int = 1800,
        asset_id: int | None = None,
        installed_at: str | None = None,
    ) -> int:
        self._n += 1
        key = Ed25519PrivateKey.generate()
        if asset_id is None:
            asset_id = self.asset()["id"]
        response = self.client.post(
            "/v1/admin/meters",
            json={
                "asset_id": asset_id,
                "device_id": f"device-{self._n}",
                "quantity": quantity,
                "interval_s": interval_s,
                "public_key_hex": public_key_hex(key),
            }
            | ({} if installed_at is None else {"installed_at": installed_at}),
            headers=ADMIN,
        )
        assert response.status_code == 201, response.text
        meter_id: int = response.json()["id"]
        self.keys[meter_id] = key
        return meter_id

    def batch(
        self,
        meter_id: int,
        sequence: int,
        readings: list[dict[str, Any]],
        key: Ed25519PrivateKey | None = None,
    ) -> dict[str, Any]:
        """A request body, signed over the canonical bytes of ``readings``."""
        signed = [
            SignedReading(
                int(datetime.fromisoformat(r["start"]).timestamp()),
                int(datetime.fromisoformat(r["end"]).timestamp()),
                ValueKind.ENERGY_WH if "energy_wh" in r else ValueKind.TEMPERATURE_CENTI_C,
                r.get("energy_wh", r.get("temperature_centi_c")),
            )
            for r in readings
        ]
        signer = key or self.keys[meter_id]
        signature = signer.sign(encode_batch(meter_id, sequence, signed))
        return {"sequence": sequence, "readings": readings, "signature_hex": signature.hex()}

    def post(self, meter_id: int, sequence: int, readings: list[dict[str, Any]]) -> Any:
        return self.client.post(
            f"/v1/meters/{meter_id}/readings", json=self.batch(meter_id, sequence, readings)
        )


def app_state(owner: TestClient | FastAPI) -> Any:
    """The app's state (engine, session factory, settings), given the app or a client on it."""
    app = owner.app if isinstance(owner, TestClient) else owner
    return app.state  # type: ignore[union-attr]


def while_locked(run: Callable[[], T], locked: Callable[[T], bool], job: str) -> T:
    """``run`` again while its answer says another runner holds the job's lock (on a shared
    PostgreSQL server another test process may be running the same job), for up to 60 s."""
    deadline = time.monotonic() + 60
    while True:
        report = run()
        if not locked(report) or time.monotonic() > deadline:
            assert not locked(report), f"the {job} lock stayed taken for 60 s"
            return report
        time.sleep(0.05)


def sequence_log(client: TestClient | FastAPI) -> int:
    """Run the sequencer until the queue is empty; returns the log's size."""
    state = app_state(client)
    report = while_locked(
        lambda: run_sequencer(state.engine, state.session_factory),
        lambda report: report is None,
        "sequencer",
    )
    assert report is not None
    return report.tree_size


def create_bond(
    client: Any, code: str, amount_issued: str = "1000000000", issue_date: str = "2020-04-01"
) -> int:
    """A bond through the admin API (maturing 2035-04-01); returns its id."""
    response = client.post(
        "/v1/admin/bonds",
        json={
            "code": code,
            "name": f"Green bond {code}",
            "issuer": "Example University",
            "currency": "JPY",
            "amount_issued": amount_issued,
            "issue_date": issue_date,
            "maturity_date": "2035-04-01",
        },
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    bond_id: int = response.json()["id"]
    return bond_id


def allocate(client: Any, bond_id: int, asset_id: int, share: str, amount: str = "500") -> None:
    """Allocate ``amount`` of the bond to the asset, ``share`` of the asset's financing."""
    response = client.post(
        "/v1/admin/allocations",
        json={
            "bond_id": bond_id,
            "asset_id": asset_id,
            "amount_allocated": amount,
            "financing_share": share,
        },
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text


def half_hours(
    start: datetime, count: int, values: list[int] | None = None, interval_s: int = 1800
) -> list[dict[str, Any]]:
    """``count`` consecutive energy readings from ``start`` (values default to 1000 + i)."""
    base = int(start.timestamp())
    return [
        {
            "start": datetime.fromtimestamp(base + i * interval_s, UTC).isoformat(),
            "end": datetime.fromtimestamp(base + (i + 1) * interval_s, UTC).isoformat(),
            "energy_wh": values[i] if values is not None else 1000 + i,
        }
        for i in range(count)
    ]


def stored_readings(
    http: Any, meter_id: int, all_revisions: bool = False, page_size: int = 7
) -> list[dict[str, Any]]:
    """Every reading of a meter through the admin API, page by page (TestClient or httpx)."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"all_revisions": all_revisions, "limit": page_size}
        if cursor:
            params["cursor"] = cursor
        page = http.get(f"/v1/admin/meters/{meter_id}/readings", params=params, headers=ADMIN)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Chain]:
    """A real Anvil node (stoppable and restartable with the same state)."""
    node = Chain(tmp_path / "anvil-state.json")
    node.start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def fleet(client: TestClient) -> Fleet:
    return Fleet(client)


@pytest.fixture
def db(database_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on the test's database with every table created (no app)."""
    engine = create_db_engine(database_url)
    Base.metadata.create_all(engine)
    yield session_factory(engine)
    engine.dispose()
