"""Hostile requests: no body, however nested or sent, may crash the server or get past the
size limit, and no parameter value may become a 5xx in SQL; on SQLite and PostgreSQL."""

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from app.core.body_limit import MAX_JSON_NESTING
from app.core.db import create_db_engine
from app.core.pagination import MAX_PAGE
from app.main import create_app
from app.models import Base
from tests.conftest import ADMIN, ADMIN_TOKEN, Fleet, create_bond, credentials, make_settings
from tests.live_server import free_port, live_server

REPO = Path(__file__).resolve().parent.parent
# 200 KB of brackets: far under the size limit, 100,000 levels deep.
HOSTILE_DEPTH = 100_000
HOSTILE_BODY = b"[" * HOSTILE_DEPTH + b"]" * HOSTILE_DEPTH


def assert_too_deep(response: httpx.Response, depth: int) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    [detail] = error["details"]
    assert detail["field"] == "body"
    assert str(depth) in detail["reason"] and str(MAX_JSON_NESTING) in detail["reason"]


@contextmanager
def gbt_server(tmp_path: Path) -> Iterator[tuple[str, "subprocess.Popen[bytes]"]]:
    """The real `gbt-server` entry point in a process of its own (a crash must not take the
    test run down), on SQLite, without chain or scheduler."""
    port = free_port()
    env = os.environ | {
        "GBT_DATABASE_URL": f"sqlite:///{tmp_path}/server.sqlite3",
        "GBT_DATA_DIR": str(tmp_path),
        "GBT_ADMIN_TOKEN": ADMIN_TOKEN,
        "GBT_PORT": str(port),
        "GBT_ANCHORING_ENABLED": "false",
        "GBT_SCHEDULER_ENABLED": "false",
    }
    with (tmp_path / "server.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", "from app.cli import main; main()"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, (tmp_path / "server.log").read_text()
                try:
                    if httpx.get(f"{url}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "gbt-server did not start"
                time.sleep(0.1)
            yield url, process
        finally:
            process.terminate()
            process.wait(timeout=30)


def test_deeply_nested_json_is_refused_and_the_server_keeps_serving(tmp_path: Path) -> None:
    with gbt_server(tmp_path) as (url, process), httpx.Client(base_url=url, timeout=60) as http:
        targets = [
            ("POST", "/v1/meters/1/readings", {}),  # unauthenticated by design
            ("POST", "/v1/admin/bonds", {}),  # refused before authentication
            ("POST", "/v1/admin/bonds", ADMIN),
            ("GET", "/v1/investor/bonds", {}),
            ("POST", "/no/such/route", {}),
        ]
        for method, path, headers in targets:
            response = http.request(
                method,
                path,
                content=HOSTILE_BODY,
                headers={**headers, "content-type": "application/json"},
            )
            assert_too_deep(response, HOSTILE_DEPTH)
        assert process.poll() is None
        assert http.get("/healthz").status_code == 200
        assert http.get("/v1/admin/bonds", headers=ADMIN).status_code == 200


def test_the_json_parser_cannot_overflow_the_stack_once_the_app_is_imported() -> None:
    """py_ecc, imported with web3, raises the recursion limit to 100,000 at import: deep JSON
    then crashed the process in C. Importing the app must leave a limit the stack can hold, so
    the parser stops with a RecursionError, in the main thread and in a worker thread."""
    probe = """
import json, sys, threading
import app.main

def parse():
    try:
        json.loads("[" * 100_000 + "]" * 100_000)
    except RecursionError:
        print("stopped")

parse()
worker = threading.Thread(target=parse)
worker.start()
worker.join()
"""
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    assert result.stdout.split() == ["stopped", "stopped"]


def test_nesting_is_measured_outside_strings_and_in_every_json_encoding(
    client: TestClient,
) -> None:
    def bond_body(depth: int) -> dict[str, Any]:
        return {"code": "[" * 500, "name": json.loads("[" * depth + "]" * depth)}

    at_limit = client.post("/v1/admin/bonds", json=bond_body(MAX_JSON_NESTING - 1), headers=ADMIN)
    assert at_limit.status_code == 422, at_limit.text  # refused by validation, not nesting
    assert {d["field"] for d in at_limit.json()["error"]["details"]} >= {"name"}

    above = client.post("/v1/admin/bonds", json=bond_body(MAX_JSON_NESTING), headers=ADMIN)
    assert_too_deep(above, MAX_JSON_NESTING + 1)

    deep = "[" * (MAX_JSON_NESTING + 1) + "]" * (MAX_JSON_NESTING + 1)
    for encoding in ("utf-16", "utf-16-be", "utf-32-le"):
        response = client.post(
            "/v1/admin/bonds",
            content=deep.encode(encoding),
            headers={**ADMIN, "content-type": "application/json"},
        )
        assert_too_deep(response, MAX_JSON_NESTING + 1)


def test_chunked_body_above_the_limit_is_413_on_every_route(
    database_url: str, tmp_path: Path
) -> None:
    limit = 4096
    settings = make_settings(database_url, tmp_path, ingest_max_body_bytes=limit)
    engine = create_db_engine(settings.database_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    app = create_app(settings)

    def chunks(total: int) -> Iterator[bytes]:
        """A JSON body of ``total`` bytes in 1 KB chunks: no Content-Length, chunked."""
        yield b'{"pad": "'
        sent = len(b'{"pad": "') + 2
        while sent < total:
            piece = min(1024, total - sent)
            yield b"x" * piece
            sent += piece
        yield b'"}'

    with live_server(app) as url, httpx.Client(base_url=url, timeout=60) as http:
        for method, path in [
            ("POST", "/v1/meters/1/readings"),
            ("POST", "/v1/admin/bonds"),
            ("POST", "/v1/admin/assets/1/recompute"),
            ("GET", "/v1/investor/bonds"),
            ("POST", "/no/such/route"),
        ]:
            request = http.build_request(
                method,
                path,
                content=chunks(limit + 1),
                headers={**credentials(path), "content-type": "application/json"},
            )
            assert request.headers["transfer-encoding"] == "chunked"
            response = http.send(request)
            assert response.status_code == 413, (path, response.text)
            assert response.json()["error"]["code"] == "body_too_large"
        # At the limit the body reaches the route: here a validation error naming the field.
        response = http.post(
            "/v1/admin/bonds",
            content=chunks(limit),
            headers={**ADMIN, "content-type": "application/json"},
        )
        assert response.status_code == 422, response.text
        assert "pad" in {d["field"] for d in response.json()["error"]["details"]}
    app.state.engine.dispose()


def _schema_type(schema: dict[str, Any]) -> set[str]:
    options = schema.get("anyOf", [schema])
    return {option.get("type", "") for option in options}


def _valid_value(param: dict[str, Any], openapi: dict[str, Any]) -> str:
    schema = param["schema"]
    if "$ref" in schema:
        schema = openapi["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if "enum" in schema:
        return str(schema["enum"][0])
    if "integer" in _schema_type(schema):
        return "1"
    if schema.get("format") == "date":
        return "2026-01-01"
    return "x"


def _operations(client: TestClient) -> Iterator[tuple[str, str, list[dict[str, Any]]]]:
    openapi = client.get("/openapi.json").json()
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            params = operation.get("parameters", [])
            for param in params:
                param["valid"] = _valid_value(param, openapi)
            yield method.upper(), path, params


def _call(
    client: TestClient, method: str, path: str, params: list[dict[str, Any]], **values: str
) -> Any:
    """The route with ``values`` and a valid value for every other required parameter."""
    chosen = {p["name"]: values.get(p["name"], p["valid"]) for p in params if p.get("required")}
    chosen |= values
    for p in params:
        if p["in"] == "path":
            path = path.replace("{" + p["name"] + "}", chosen[p["name"]])
    query = {
        p["name"]: chosen[p["name"]] for p in params if p["in"] == "query" and p["name"] in chosen
    }
    return client.request(method, path, params=query, headers=credentials(path))


def _assert_refused(response: Any, field: str) -> None:
    assert response.status_code == 422, response.text
    assert field in {d["field"] for d in response.json()["error"]["details"]}, response.text


def test_every_limit_parameter_is_bounded(client: TestClient, fleet: Fleet) -> None:
    fleet.meter()  # asset 1, meter 1
    create_bond(client, "GB-1")
    routes = [
        (method, path, params)
        for method, path, params in _operations(client)
        if any(p["name"] == "limit" and p["in"] == "query" for p in params)
    ]
    assert ("GET", "/v1/admin/checkpoints") in {(m, p) for m, p, _ in routes}
    for method, path, params in routes:
        for bad in (str(10**30), str(MAX_PAGE + 1), "0", "-1", "-" + str(10**30)):
            _assert_refused(_call(client, method, path, params, limit=bad), "limit")
        response = _call(client, method, path, params, limit=str(MAX_PAGE))
        assert response.status_code < 500, (path, response.text)


def test_no_integer_parameter_reaches_sql_unbounded(client: TestClient, fleet: Fleet) -> None:
    fleet.meter()
    create_bond(client, "GB-1")
    checked = set()
    for method, path, params in _operations(client):
        for param in params:
            if "integer" not in _schema_type(param["schema"]):
                continue
            checked.add((path, param["name"]))
            for bad in (str(10**30), "-" + str(10**30)):
                _assert_refused(
                    _call(client, method, path, params, **{param["name"]: bad}), param["name"]
                )
    assert ("/v1/investor/checkpoints/{number}", "number") in checked


def test_cursors_no_api_returned_are_422(client: TestClient, fleet: Fleet) -> None:
    fleet.meter()
    create_bond(client, "GB-1")
    huge = str(10**30)
    bogus = [huge, "-1", f"0:{huge}", f"0:{2**31}", f"{huge}:0", "9999-12-31", "abc"]
    routes = [
        (method, path, params)
        for method, path, params in _operations(client)
        if any(p["name"] == "cursor" for p in params)
    ]
    assert len(routes) >= 8
    for method, path, params in routes:
        for cursor in bogus:
            _assert_refused(_call(client, method, path, params, cursor=cursor), "cursor")
