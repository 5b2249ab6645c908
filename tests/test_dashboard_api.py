"""What the dashboard needs from the service, on SQLite and PostgreSQL: the static page and
Chart.js from node_modules, a configuration with no secrets, and proof bundles with investor
access that are exactly the auditor API's."""

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from web3 import Web3

from app.core.db import create_db_engine
from app.main import create_app
from app.models import Base
from app.web import router as web
from tests.chain_helpers import Chain
from tests.conftest import (
    AUDITOR,
    Fleet,
    half_hours,
    make_settings,
    sequence_log,
    stored_readings,
)
from tests.impact_helpers import anchor_confirmed

STATIC = Path(web.__file__).parent / "static"
INVESTOR_KEY = "investor-key-dev-only-0002"


def app_client(database_url: str, tmp_path: Path, **overrides: Any) -> TestClient:
    settings = make_settings(database_url, tmp_path, **overrides)
    engine = create_db_engine(settings.database_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    return TestClient(create_app(settings))


def test_page_and_chart_library_are_served(client: TestClient) -> None:
    root = client.get("/", follow_redirects=False)
    assert root.status_code == 307 and root.headers["location"] == "/dashboard/"
    page = client.get("/dashboard/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="vendor/chart.umd.js"' in page.text
    static = web.STATIC_DIR
    for path in [*static.glob("*.js"), static / "style.css"]:
        assert client.get(f"/dashboard/{path.name}").status_code == 200, path.name
    # Every ES module the page loads is served: each relative import names a file there.
    for module in static.glob("*.js"):
        for imported in re.findall(r'(?:from |import\()"\./([\w.-]+)"', module.read_text()):
            assert (static / imported).is_file(), f"{module.name} imports {imported}"
    chart = client.get("/dashboard/vendor/chart.umd.js")
    assert chart.status_code == 200, chart.text
    assert chart.headers["content-type"].startswith("text/javascript")
    assert chart.content == web.CHART_JS.read_bytes()
    assert "Chart.js v4" in chart.text[:200]


def test_config_never_shows_the_service_chain_url(database_url: str, tmp_path: Path) -> None:
    embedded = app_client(database_url, tmp_path)
    assert embedded.get("/dashboard/config.json").json() == {
        "investor_access": "public",
        "chain_rpc_url": "http://127.0.0.1:8545",
        "bundle_format": "gbt-proof-bundle/1",
    }
    secret = "https://user:secret-password@rpc.example.net/v3/0123456789abcdef"
    external = app_client(database_url, tmp_path, chain_rpc_url=secret, chain_id=1)
    body = external.get("/dashboard/config.json")
    assert body.json()["chain_rpc_url"] is None and "secret" not in body.text
    public = app_client(
        database_url,
        tmp_path,
        chain_rpc_url=secret,
        web_chain_rpc_url="https://rpc.example.net/public",
        investor_access="api_key",
        investor_api_keys=INVESTOR_KEY,
    )
    assert public.get("/dashboard/config.json").json() == {
        "investor_access": "api_key",
        "chain_rpc_url": "https://rpc.example.net/public",
        "bundle_format": "gbt-proof-bundle/1",
    }
    for c in (embedded, external, public):
        c.app.state.engine.dispose()  # type: ignore[attr-defined]


def test_page_holds_no_credentials() -> None:
    """The page carries no key of its own: an investor key is typed in by the viewer."""
    text = "\n".join(p.read_text() for p in STATIC.iterdir())
    assert not re.search(r"(?i)(bearer\s+[a-z0-9-]{16,}|api[_-]?key\s*[:=]\s*['\"][^'\"]+)", text)
    assert "/v1/admin" not in text and "/v1/audit" not in text


def test_get_checkpoint_selector_matches_the_contract() -> None:
    source = (STATIC / "verify.js").read_text()
    [selector] = re.findall(r'GET_CHECKPOINT_SELECTOR = "(0x[0-9a-f]{8})"', source)
    assert selector == "0x" + Web3.keccak(text="getCheckpoint(uint256)")[:4].hex()


def test_investor_proof_is_the_auditor_bundle(
    client: TestClient, fleet: Fleet, chain: Chain
) -> None:
    meter = fleet.meter()
    assert fleet.post(meter, 1, half_hours(datetime(2026, 1, 1, tzinfo=UTC), 4)).status_code == 200
    reading_id = stored_readings(client, meter)[1]["id"]
    sequence_log(client)
    pending = client.get(f"/v1/investor/proofs/reading/{reading_id}")
    assert pending.status_code == 404 and pending.json()["error"]["code"] == "not_anchored"
    anchor_confirmed(client, chain)
    investor = client.get(f"/v1/investor/proofs/reading/{reading_id}")
    assert investor.status_code == 200, investor.text
    auditor = client.get(f"/v1/audit/proofs/reading/{reading_id}", headers=AUDITOR)
    assert investor.json() == auditor.json()
    assert investor.json()["leaf"]["kind"] == "reading"
    assert client.get("/v1/investor/proofs/reading/999999").status_code == 404
    assert client.get("/v1/investor/proofs/nonsense/1").status_code == 422


def test_investor_proof_needs_an_investor_key_in_api_key_mode(
    database_url: str, tmp_path: Path
) -> None:
    with app_client(
        database_url, tmp_path, investor_access="api_key", investor_api_keys=INVESTOR_KEY
    ) as c:
        assert c.get("/v1/investor/proofs/reading/1").status_code == 401
        assert c.get("/v1/investor/proofs/reading/1", headers=AUDITOR).status_code == 403
        keyed = c.get("/v1/investor/proofs/reading/1", headers={"X-API-Key": INVESTOR_KEY})
        assert keyed.status_code == 404  # allowed in; there is no such reading
        # The page itself and its configuration stay open: the viewer types the key in.
        assert c.get("/dashboard/").status_code == 200
        assert c.get("/dashboard/config.json").status_code == 200
        c.app.state.engine.dispose()  # type: ignore[attr-defined]
