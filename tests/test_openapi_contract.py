"""The OpenAPI document is a contract a client can be generated from: every route that answers
with JSON documents the body of its success responses, and the investor and auditor routes
(which write their JSON themselves, for the ETag) send exactly the body they document."""

import json
from pathlib import Path
from typing import Any

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import TypeAdapter

from app.audit import router as audit
from app.investor import router as investor
from app.main import create_app
from tests.chain_helpers import Chain
from tests.conftest import AUDITOR, Fleet, make_settings
from tests.test_integrity import anchor
from tests.test_investor_api import setup_bond

JSON = "application/json"


def openapi(tmp_path: Path) -> dict[str, Any]:
    # No request is made: the document only needs the routes, not a database.
    app = create_app(make_settings(f"sqlite:///{tmp_path}/openapi.sqlite3", tmp_path))
    return app.openapi()


def test_every_json_success_response_has_a_schema(tmp_path: Path) -> None:
    undocumented = []
    json_routes = 0
    for path, operations in openapi(tmp_path)["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                media = response.get("content", {})
                if not status.startswith("2") or JSON not in media:
                    continue
                json_routes += 1
                if not media[JSON].get("schema"):  # FastAPI writes {} for an untyped body
                    undocumented.append(f"{method.upper()} {path} ({status})")
    assert json_routes > 0
    assert not undocumented, "JSON responses with no schema: " + ", ".join(undocumented)


def test_the_log_export_is_documented_as_ndjson_not_json(tmp_path: Path) -> None:
    export = openapi(tmp_path)["paths"]["/v1/audit/export"]["get"]["responses"]["200"]
    assert list(export["content"]) == ["application/x-ndjson"]


def test_investor_and_audit_bodies_are_the_documented_models(
    client: TestClient, fleet: Fleet, chain: Chain
) -> None:
    """Each JSON route under /v1/investor and /v1/audit, called on an anchored bond: its body
    parses as the route's response model (no field missing or of another type) and that model
    gives back the same JSON (no field undocumented)."""
    ids = setup_bond(client, fleet, days=2)
    anchor(client, chain)
    samples = {
        "bond_id": ids["bond"]["id"],
        "asset_id": ids["asset"]["id"],
        "number": 0,
        "kind": "reading",
        "ref_id": 1,
    }
    queries = {"/v1/audit/consistency": {"from": 0, "to": 0}}
    routes = [
        r
        for r in [*investor.router.routes, *audit.router.routes]
        if isinstance(r, APIRoute) and r.response_model is not None
    ]
    assert len(routes) >= 11
    for route in routes:
        url = route.path.format(**samples)
        response = client.get(url, params=queries.get(route.path), headers=AUDITOR)
        assert response.status_code == 200, (url, response.text)
        model: TypeAdapter[Any] = TypeAdapter(route.response_model)
        parsed = model.validate_json(response.content)
        assert json.loads(model.dump_json(parsed, by_alias=True)) == response.json(), url
