"""The registry's admin API (app/registry/router.py: bonds, assets, allocations, meters): auth,
create/get/list, paging, filters, idempotent creates, validation errors and meter deactivation.
Every test runs on SQLite and on PostgreSQL (the ``client`` fixture is parametrized)."""

import re
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from httpx import Response

from app.core.pagination import MAX_PAGE
from app.pure.signing import public_key_hex
from app.registry.router import router as admin_router
from tests.conftest import ADMIN, ADMIN_TOKEN

BONDS = "/v1/admin/bonds"
ASSETS = "/v1/admin/assets"
ALLOCATIONS = "/v1/admin/allocations"
METERS = "/v1/admin/meters"
SECONDS_PER_DAY = 86_400
# Fields the API returns as decimal strings whose scale depends on the database.
DECIMAL_FIELDS = {"amount_issued", "floor_area_m2", "amount_allocated", "financing_share"}


# Request bodies and helpers


def bond_body(code: str = "GB-1", **overrides: Any) -> dict[str, Any]:
    body = {
        "code": code,
        "name": f"Green bond {code}",
        "issuer": "Example University",
        "currency": "JPY",
        "amount_issued": "1000000",
        "issue_date": "2026-04-01",
        "maturity_date": "2031-04-01",
    }
    return {**body, **overrides}


def asset_body(code: str = "ASSET-1", **overrides: Any) -> dict[str, Any]:
    body = {
        "code": code,
        "name": f"Research building {code}",
        "kind": "building",
        "floor_area_m2": "5000",
        "grid_region": "JP-national",
        "timezone": "Asia/Tokyo",
    }
    return {**body, **overrides}


def new_public_key() -> str:
    return public_key_hex(Ed25519PrivateKey.generate())


def meter_body(asset_id: int, device_id: str = "device-1", **overrides: Any) -> dict[str, Any]:
    body = {
        "asset_id": asset_id,
        "device_id": device_id,
        "quantity": "consumption",
        "interval_s": 1800,
        "public_key_hex": new_public_key(),
    }
    return {**body, **overrides}


def allocation_body(
    bond_id: int, asset_id: int, amount: Any = "100000", share: Any = "0.5"
) -> dict[str, Any]:
    return {
        "bond_id": bond_id,
        "asset_id": asset_id,
        "amount_allocated": str(amount),
        "financing_share": str(share),
    }


def post(client: TestClient, path: str, body: dict[str, Any]) -> Response:
    return client.post(path, json=body, headers=ADMIN)


def get(client: TestClient, path: str, **params: Any) -> Response:
    return client.get(path, params=params, headers=ADMIN)


def create(client: TestClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST a body that must create a new entity; returns the entity."""
    response = post(client, path, body)
    assert response.status_code == 201, response.text
    entity: dict[str, Any] = response.json()
    return entity


def assert_matches(entity: dict[str, Any], body: dict[str, Any]) -> None:
    """The entity carries every value of the request body (decimals compared as numbers)."""
    for field, value in body.items():
        if field in DECIMAL_FIELDS and value is not None:
            assert Decimal(entity[field]) == Decimal(str(value)), field
        else:
            assert entity[field] == value, field


def assert_error(
    response: Response, status: int, code: str, fields: set[str] | None = None
) -> None:
    """The response is the API's error body; with ``fields``, its details name exactly those."""
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error"}
    error = response.json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], list)
    for detail in error["details"]:
        assert isinstance(detail["field"], str) and detail["field"]
        assert isinstance(detail["reason"], str) and detail["reason"]
    if fields is not None:
        assert {d["field"] for d in error["details"]} == fields


def assert_invalid(response: Response, *fields: str) -> None:
    assert_error(response, 422, "invalid_input", set(fields))


def walk(client: TestClient, path: str, limit: int, **params: Any) -> list[list[dict[str, Any]]]:
    """Every page of a listing, following ``next_cursor`` until it is null."""
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        query = {"limit": limit, **params} | ({"cursor": cursor} if cursor else {})
        response = get(client, path, **query)
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page["items"])
        assert len(page["items"]) <= limit
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) <= 1000, "paging does not terminate"


def listed_ids(client: TestClient, path: str, **params: Any) -> list[int]:
    return [item["id"] for page in walk(client, path, MAX_PAGE, **params) for item in page]


def make_bond(client: TestClient, code: str = "GB-1", **overrides: Any) -> dict[str, Any]:
    return create(client, BONDS, bond_body(code, **overrides))


def make_asset(client: TestClient, code: str = "ASSET-1", **overrides: Any) -> dict[str, Any]:
    return create(client, ASSETS, asset_body(code, **overrides))


def make_meter(client: TestClient, asset_id: int, device_id: str = "device-1") -> dict[str, Any]:
    return create(client, METERS, meter_body(asset_id, device_id))


def make_allocation(client: TestClient, bond_id: int, asset_id: int, **kw: Any) -> dict[str, Any]:
    return create(client, ALLOCATIONS, allocation_body(bond_id, asset_id, **kw))


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# Authentication


AUTH_REQUESTS = [
    pytest.param("GET", BONDS, None, id="get"),
    pytest.param("POST", BONDS, bond_body(), id="post"),
]


@pytest.mark.parametrize(("method", "path", "body"), AUTH_REQUESTS)
@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="no-header"),
        pytest.param(f"Basic {ADMIN_TOKEN}", id="basic-scheme"),
        pytest.param(f"Token {ADMIN_TOKEN}", id="other-scheme"),
        pytest.param("Bearer ", id="empty-bearer"),
    ],
)
def test_missing_bearer_token_is_401(
    client: TestClient, method: str, path: str, body: Any, authorization: str | None
) -> None:
    """Without a bearer token the admin API answers 401 with a Bearer challenge."""
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.request(method, path, json=body, headers=headers)
    assert_error(response, 401, "unauthenticated", set())
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert get(client, BONDS).json()["items"] == []


@pytest.mark.parametrize(("method", "path", "body"), AUTH_REQUESTS)
def test_wrong_bearer_token_is_403(client: TestClient, method: str, path: str, body: Any) -> None:
    """A bearer token that is not the admin token is refused with 403 and changes nothing."""
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}-wrong"}
    response = client.request(method, path, json=body, headers=headers)
    assert_error(response, 403, "forbidden", set())
    assert get(client, BONDS).json()["items"] == []


def test_bearer_scheme_is_case_insensitive(client: TestClient) -> None:
    """RFC 7235 auth schemes are case-insensitive: 'bearer <token>' is accepted."""
    response = client.get(BONDS, headers={"Authorization": f"bearer {ADMIN_TOKEN}"})
    assert response.status_code == 200, response.text


def test_auth_is_checked_before_body_validation(client: TestClient) -> None:
    """An unauthenticated client learns nothing about body validation: 401, not 422."""
    response = client.post(BONDS, json={"code": ""})
    assert_error(response, 401, "unauthenticated", set())


def test_every_admin_route_requires_the_token(client: TestClient) -> None:
    """No route of the admin router is reachable without the bearer token."""
    routes = [
        (method, re.sub(r"\{[^}]+\}", "1", route.path))
        for route in admin_router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    ]
    assert {("POST", BONDS), ("GET", METERS), ("POST", f"{METERS}/1/deactivate")} <= set(routes)
    for method, path in routes:
        response = client.request(method, path)
        assert_error(response, 401, "unauthenticated", set())


# Create, get, list


def test_bond_create_and_get(client: TestClient) -> None:
    """A created bond is returned with an id and created_at, and GET returns the same bond."""
    body = bond_body(amount_issued="2500000000.12")
    before = datetime.now(UTC)
    bond = create(client, BONDS, body)
    assert_matches(bond, body)
    assert before - timedelta(seconds=1) <= parse_time(bond["created_at"]) <= datetime.now(UTC)
    fetched = get(client, f"{BONDS}/{bond['id']}")
    assert fetched.status_code == 200
    assert_matches(fetched.json(), body)
    assert fetched.json()["id"] == bond["id"]
    assert parse_time(fetched.json()["created_at"]) == parse_time(bond["created_at"])


def test_asset_create_and_get(client: TestClient) -> None:
    """Assets of both kinds round-trip; a renewable facility needs no floor area."""
    bodies = [
        asset_body("BLDG", floor_area_m2="12345.67", commissioning_date="2025-10-01"),
        asset_body("PV", kind="renewable_facility", floor_area_m2=None, timezone="Europe/Berlin"),
    ]
    for body in bodies:
        asset = create(client, ASSETS, body)
        assert_matches(asset, body)
        fetched = get(client, f"{ASSETS}/{asset['id']}")
        assert fetched.status_code == 200
        assert_matches(fetched.json(), body)


def test_asset_timezone_defaults_to_tokyo(client: TestClient) -> None:
    """The documented default time zone is applied when none is given."""
    body = asset_body()
    del body["timezone"]
    assert create(client, ASSETS, body)["timezone"] == "Asia/Tokyo"


def test_allocation_create_and_get(client: TestClient) -> None:
    """An allocation links a bond to an asset with an amount and a financing share."""
    bond, asset = make_bond(client), make_asset(client)
    body = allocation_body(bond["id"], asset["id"], amount="250000.5", share="0.12345678")
    allocation = create(client, ALLOCATIONS, body)
    assert_matches(allocation, body)
    fetched = get(client, f"{ALLOCATIONS}/{allocation['id']}")
    assert fetched.status_code == 200
    assert_matches(fetched.json(), body)


def test_meter_create_and_get(client: TestClient) -> None:
    """A new meter is active, not deactivated, and keeps its public key in lower case."""
    asset = make_asset(client)
    key = new_public_key()
    body = meter_body(asset["id"], public_key_hex=key.upper(), quantity="generation")
    meter = create(client, METERS, body)
    assert_matches(meter, {**body, "public_key_hex": key})
    assert meter["active"] is True
    assert meter["deactivated_at"] is None
    fetched = get(client, f"{METERS}/{meter['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == meter


def seed(client: TestClient, kind: str, count: int) -> list[int]:
    """``count`` entities of one kind, created in order; returns their ids."""
    if kind == "bonds":
        return [make_bond(client, f"GB-{i}")["id"] for i in range(count)]
    if kind == "assets":
        return [make_asset(client, f"ASSET-{i}")["id"] for i in range(count)]
    asset = make_asset(client, "SHARED")
    if kind == "meters":
        return [make_meter(client, asset["id"], f"device-{i}")["id"] for i in range(count)]
    share = (Decimal(1) / count).quantize(Decimal("0.00000001"), rounding=ROUND_DOWN)
    return [
        make_allocation(client, make_bond(client, f"GB-{i}")["id"], asset["id"], share=share)["id"]
        for i in range(count)
    ]


PATHS = {"bonds": BONDS, "assets": ASSETS, "meters": METERS, "allocations": ALLOCATIONS}


@pytest.mark.parametrize("kind", list(PATHS))
@pytest.mark.parametrize("limit", [1, 2, 5, 7])
def test_paging_walks_every_item_exactly_once(client: TestClient, kind: str, limit: int) -> None:
    """Following next_cursor visits every item once, in id order, in pages of at most limit;
    the last page has next_cursor null and no empty page follows a full one."""
    count = 5
    ids = seed(client, kind, count)
    pages = walk(client, PATHS[kind], limit)
    seen = [item["id"] for page in pages for item in page]
    assert seen == sorted(ids)
    assert len(pages) == max(1, -(-count // limit))
    assert all(len(page) == limit for page in pages[:-1])
    assert pages[-1]


@pytest.mark.parametrize("kind", list(PATHS))
def test_empty_listing(client: TestClient, kind: str) -> None:
    """An empty table lists as no items and no next page."""
    response = get(client, PATHS[kind])
    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": MAX_PAGE + 1}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_bad_paging_parameters_are_422(
    client: TestClient, params: dict[str, Any], field: str
) -> None:
    """Out-of-range limits and foreign cursors are rejected, naming the parameter."""
    assert_invalid(get(client, BONDS, **params), field)


def test_allocations_filter_by_bond_and_asset(client: TestClient) -> None:
    """bond_id and asset_id filter allocations, alone, combined, and across pages."""
    bonds = [make_bond(client, f"GB-{i}")["id"] for i in range(2)]
    assets = [make_asset(client, f"ASSET-{i}")["id"] for i in range(3)]
    allocations = {
        (b, a): make_allocation(client, b, a, amount="1000", share="0.25")["id"]
        for b in bonds
        for a in assets
    }
    for bond_id in bonds:
        expected = sorted(i for (b, _), i in allocations.items() if b == bond_id)
        assert listed_ids(client, ALLOCATIONS, bond_id=bond_id) == expected
        paged = walk(client, ALLOCATIONS, 2, bond_id=bond_id)
        assert [item["id"] for page in paged for item in page] == expected
        assert all(item["bond_id"] == bond_id for page in paged for item in page)
    for asset_id in assets:
        expected = sorted(i for (_, a), i in allocations.items() if a == asset_id)
        assert listed_ids(client, ALLOCATIONS, asset_id=asset_id) == expected
    pair = (bonds[1], assets[2])
    assert listed_ids(client, ALLOCATIONS, bond_id=pair[0], asset_id=pair[1]) == [allocations[pair]]
    assert listed_ids(client, ALLOCATIONS, bond_id=max(bonds) + 1) == []


def test_meters_filter_by_asset(client: TestClient) -> None:
    """asset_id filters meters, also across pages."""
    assets = [make_asset(client, f"ASSET-{i}")["id"] for i in range(2)]
    meters = {
        make_meter(client, assets[i % 2], f"device-{i}")["id"]: assets[i % 2] for i in range(5)
    }
    for asset_id in assets:
        expected = sorted(m for m, a in meters.items() if a == asset_id)
        assert listed_ids(client, METERS, asset_id=asset_id) == expected
        paged = walk(client, METERS, 1, asset_id=asset_id)
        assert [item["id"] for page in paged for item in page] == expected
    assert listed_ids(client, METERS, asset_id=max(assets) + 1) == []


@pytest.mark.parametrize(
    ("method", "path", "what"),
    [
        ("GET", BONDS + "/{}", "bond"),
        ("GET", ASSETS + "/{}", "asset"),
        ("GET", ALLOCATIONS + "/{}", "allocation"),
        ("GET", METERS + "/{}", "meter"),
        ("POST", METERS + "/{}/deactivate", "meter"),
    ],
)
def test_unknown_id_is_404(client: TestClient, method: str, path: str, what: str) -> None:
    """Unknown ids give 404 with the error body naming what was not found."""
    bond, asset = make_bond(client), make_asset(client)
    allocation = make_allocation(client, bond["id"], asset["id"])
    meter = make_meter(client, asset["id"])
    unknown = max(bond["id"], asset["id"], allocation["id"], meter["id"]) + 1
    response = client.request(method, path.format(unknown), headers=ADMIN)
    assert_error(response, 404, "not_found", set())
    assert response.json()["error"]["message"] == f"{what} {unknown} does not exist"


def test_non_integer_id_is_422(client: TestClient) -> None:
    """A path id that is not an integer is a validation error naming the path parameter."""
    assert_invalid(get(client, f"{BONDS}/abc"), "bond_id")


# Idempotent creates


def natural_key_cases(client: TestClient) -> dict[str, tuple[str, dict[str, Any]]]:
    """One valid body per entity kind (the parents they need are created here)."""
    bond, asset = make_bond(client, "PARENT-BOND"), make_asset(client, "PARENT-ASSET")
    return {
        "bond": (BONDS, bond_body("GB-IDEM")),
        "asset": (ASSETS, asset_body("ASSET-IDEM")),
        "meter": (METERS, meter_body(asset["id"], "device-idem")),
        "allocation": (ALLOCATIONS, allocation_body(bond["id"], asset["id"])),
    }


@pytest.mark.parametrize("kind", ["bond", "asset", "meter", "allocation"])
def test_identical_create_is_idempotent(client: TestClient, kind: str) -> None:
    """Posting the identical body twice gives 201 then 200 with the same stored entity."""
    path, body = natural_key_cases(client)[kind]
    before = listed_ids(client, path)
    first = post(client, path, body)
    second = post(client, path, body)
    assert (first.status_code, second.status_code) == (201, 200), second.text
    assert second.json()["id"] == first.json()["id"]
    assert_matches(second.json(), body)
    assert parse_time(second.json()["created_at"]) == parse_time(first.json()["created_at"])
    assert listed_ids(client, path) == [*before, first.json()["id"]]


@pytest.mark.parametrize(
    ("kind", "changes"),
    [
        ("bond", {"amount_issued": "2000000"}),
        ("bond", {"name": "Renamed bond", "maturity_date": "2032-04-01", "currency": "EUR"}),
        ("asset", {"floor_area_m2": "6000"}),
        ("asset", {"kind": "renewable_facility", "timezone": "UTC"}),
        ("meter", {"interval_s": 900}),
        ("meter", {"installed_at": "2025-04-01T00:00:00Z"}),
        ("meter", {"public_key_hex": "PLACEHOLDER", "quantity": "generation"}),
        ("allocation", {"amount_allocated": "123"}),
        ("allocation", {"financing_share": "0.25", "amount_allocated": "5"}),
    ],
)
def test_same_natural_key_with_other_values_is_409(
    client: TestClient, kind: str, changes: dict[str, Any]
) -> None:
    """Same natural key, different values: 409 naming each differing field; storage unchanged."""
    path, body = natural_key_cases(client)[kind]
    if changes.get("public_key_hex") == "PLACEHOLDER":
        changes = {**changes, "public_key_hex": new_public_key()}
    original = create(client, path, body)
    response = post(client, path, {**body, **changes})
    assert_error(response, 409, "conflict", set(changes))
    stored = get(client, f"{path}/{original['id']}")
    assert stored.status_code == 200
    assert_matches(stored.json(), body)
    assert listed_ids(client, path).count(original["id"]) == 1


def test_meter_conflict_on_other_asset(client: TestClient) -> None:
    """A device_id already registered on one asset cannot be registered on another."""
    first, second = make_asset(client, "A"), make_asset(client, "B")
    body = meter_body(first["id"])
    meter = create(client, METERS, body)
    assert_error(
        post(client, METERS, {**body, "asset_id": second["id"]}), 409, "conflict", {"asset_id"}
    )
    assert get(client, f"{METERS}/{meter['id']}").json()["asset_id"] == first["id"]
    assert listed_ids(client, METERS, asset_id=second["id"]) == []


@pytest.mark.parametrize(
    ("path", "body", "same"),
    [
        (ASSETS, asset_body(floor_area_m2="5000"), {"floor_area_m2": "5000.00"}),
        (BONDS, bond_body(amount_issued="1000000"), {"amount_issued": "1000000.00"}),
    ],
)
def test_equal_decimals_in_another_notation_are_idempotent(
    client: TestClient, path: str, body: dict[str, Any], same: dict[str, Any]
) -> None:
    """A retry that writes an equal number differently (5000 vs 5000.00) is not a conflict."""
    first = create(client, path, body)
    retry = post(client, path, {**body, **same})
    assert retry.status_code == 200, retry.text
    assert retry.json()["id"] == first["id"]


def test_meter_key_case_is_idempotent(client: TestClient) -> None:
    """Public keys are compared case-insensitively: a retry in upper case is the same meter."""
    asset = make_asset(client)
    body = meter_body(asset["id"])
    first = create(client, METERS, body)
    retry = post(client, METERS, {**body, "public_key_hex": body["public_key_hex"].upper()})
    assert retry.status_code == 200, retry.text
    assert retry.json() == first


# Validation (422 naming the field)


@pytest.mark.parametrize("days_after_issue", [0, -1, -365])
def test_bond_must_mature_after_issue(client: TestClient, days_after_issue: int) -> None:
    """maturity_date on or before issue_date is rejected, naming maturity_date."""
    issue = date(2026, 4, 1)
    maturity = issue + timedelta(days=days_after_issue)
    body = bond_body(issue_date=issue.isoformat(), maturity_date=maturity.isoformat())
    assert_invalid(post(client, BONDS, body), "maturity_date")
    assert get(client, BONDS).json()["items"] == []


def test_bond_maturing_one_day_after_issue_is_accepted(client: TestClient) -> None:
    """The smallest valid term (one day) is accepted."""
    issue = date(2026, 4, 1)
    make_bond(client, issue_date=issue.isoformat(), maturity_date=str(issue + timedelta(days=1)))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount_issued": "-1"}, "amount_issued"),
        ({"amount_issued": "-0.01"}, "amount_issued"),
        ({"amount_issued": "1.00001"}, "amount_issued"),
        ({"amount_issued": "NaN"}, "amount_issued"),
        ({"currency": "jpy"}, "currency"),
        ({"currency": "JP"}, "currency"),
        ({"currency": "JPYY"}, "currency"),
        ({"currency": "J1Y"}, "currency"),
        ({"code": ""}, "code"),
        ({"code": "X" * 65}, "code"),
        ({"issue_date": "2026-13-01"}, "issue_date"),
        ({"coupon_rate": "0.01"}, "coupon_rate"),
    ],
)
def test_invalid_bond_is_422(client: TestClient, changes: dict[str, Any], field: str) -> None:
    """Each invalid bond field is rejected with 422 naming it; nothing is stored."""
    assert_invalid(post(client, BONDS, bond_body(**changes)), field)
    assert get(client, BONDS).json()["items"] == []


def test_missing_bond_field_is_422(client: TestClient) -> None:
    """A required field left out is named in the error."""
    body = bond_body()
    del body["issuer"]
    assert_invalid(post(client, BONDS, body), "issuer")


def test_zero_amount_bond_is_accepted(client: TestClient) -> None:
    """amount_issued may be zero (the check is 'not negative')."""
    assert Decimal(make_bond(client, amount_issued="0")["amount_issued"]) == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"floor_area_m2": "0"}, "floor_area_m2"),
        ({"floor_area_m2": "-10"}, "floor_area_m2"),
        ({"floor_area_m2": None}, "floor_area_m2"),
        ({"kind": "factory"}, "kind"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": "Tokyo"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"grid_region": ""}, "grid_region"),
        ({"owner": "someone"}, "owner"),
    ],
)
def test_invalid_asset_is_422(client: TestClient, changes: dict[str, Any], field: str) -> None:
    """Each invalid asset field (including a building without floor area) is named; nothing is
    stored."""
    assert_invalid(post(client, ASSETS, asset_body(**changes)), field)
    assert get(client, ASSETS).json()["items"] == []


def test_building_without_floor_area_key_is_422(client: TestClient) -> None:
    """A building body that omits floor_area_m2 entirely is rejected, naming floor_area_m2."""
    body = asset_body()
    del body["floor_area_m2"]
    assert_invalid(post(client, ASSETS, body), "floor_area_m2")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"interval_s": 1000}, "interval_s"),
        ({"interval_s": 7}, "interval_s"),
        ({"interval_s": 30}, "interval_s"),
        ({"interval_s": 0}, "interval_s"),
        ({"interval_s": -1800}, "interval_s"),
        ({"interval_s": 2 * SECONDS_PER_DAY}, "interval_s"),
        ({"public_key_hex": "zz" * 32}, "public_key_hex"),
        ({"public_key_hex": "ab" * 31}, "public_key_hex"),
        ({"public_key_hex": "ab" * 33}, "public_key_hex"),
        ({"public_key_hex": "abc"}, "public_key_hex"),
        ({"public_key_hex": ""}, "public_key_hex"),
        ({"quantity": "water"}, "quantity"),
        ({"device_id": ""}, "device_id"),
        ({"firmware": "1.2"}, "firmware"),
    ],
)
def test_invalid_meter_is_422(client: TestClient, changes: dict[str, Any], field: str) -> None:
    """Each invalid meter field is rejected with 422 naming it; nothing is stored."""
    asset = make_asset(client)
    assert_invalid(post(client, METERS, meter_body(asset["id"], **changes)), field)
    assert get(client, METERS).json()["items"] == []


@pytest.mark.parametrize("interval_s", [60, 300, 900, 1800, 3600, SECONDS_PER_DAY])
def test_intervals_dividing_a_day_are_accepted(client: TestClient, interval_s: int) -> None:
    """Every interval from 60 s to a day that divides 86400 is accepted."""
    assert SECONDS_PER_DAY % interval_s == 0
    asset = make_asset(client)
    meter = create(client, METERS, meter_body(asset["id"], interval_s=interval_s))
    assert meter["interval_s"] == interval_s


@pytest.mark.parametrize(
    ("installed_at", "reason_part"),
    [
        ("1999-12-31T23:59:59Z", "GBT_INGEST_EARLIEST_READING"),
        ("1870-01-01T00:00:00Z", "GBT_INGEST_EARLIEST_READING"),
        ("2025-04-01 00:00:00Z", "RFC 3339"),
        ("2025-04-01T00:00:00+0900", "RFC 3339"),
        ("2025-04-01T00:00:00.5Z", "whole seconds"),
        (1743465600, "must be a string"),
    ],
)
def test_meter_installed_at_is_rfc3339_and_not_before_the_earliest_reading(
    client: TestClient, installed_at: object, reason_part: str
) -> None:
    asset = make_asset(client)
    response = post(client, METERS, meter_body(asset["id"], installed_at=installed_at))
    assert_invalid(response, "installed_at")
    assert reason_part in response.json()["error"]["details"][0]["reason"]
    assert get(client, METERS).json()["items"] == []


def test_meter_installed_at_is_stored_in_utc_and_idempotent(client: TestClient) -> None:
    """The same instant in another offset is the same meter (200); omitting it is not (409)."""
    asset = make_asset(client)
    body = meter_body(asset["id"], installed_at="2025-04-01T09:00:00+09:00")
    meter = create(client, METERS, body)
    assert meter["installed_at"] == "2025-04-01T00:00:00Z"
    retry = post(client, METERS, {**body, "installed_at": "2025-04-01T00:00:00Z"})
    assert retry.status_code == 200, retry.text
    assert retry.json() == meter
    without = {k: v for k, v in body.items() if k != "installed_at"}
    assert_error(post(client, METERS, without), 409, "conflict", {"installed_at"})
    assert create(client, METERS, meter_body(asset["id"], "device-2"))["installed_at"] is None


def test_meter_on_unknown_asset_is_422(client: TestClient) -> None:
    """A meter naming an asset that does not exist is 422 on asset_id (not 404)."""
    unknown = make_asset(client)["id"] + 1
    assert_invalid(post(client, METERS, meter_body(unknown)), "asset_id")
    assert get(client, METERS).json()["items"] == []


@pytest.mark.parametrize(
    ("bond_known", "asset_known", "fields"),
    [
        (False, True, {"bond_id"}),
        (True, False, {"asset_id"}),
        (False, False, {"bond_id", "asset_id"}),
    ],
)
def test_allocation_with_unknown_parent_is_422(
    client: TestClient, bond_known: bool, asset_known: bool, fields: set[str]
) -> None:
    """An allocation to an unknown bond or asset is 422 naming each unknown id (not 404)."""
    bond, asset = make_bond(client), make_asset(client)
    bond_id = bond["id"] if bond_known else bond["id"] + 1
    asset_id = asset["id"] if asset_known else asset["id"] + 1
    response = post(client, ALLOCATIONS, allocation_body(bond_id, asset_id))
    assert_error(response, 422, "invalid_input", fields)
    assert get(client, ALLOCATIONS).json()["items"] == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"financing_share": "0"}, "financing_share"),
        ({"financing_share": "-0.5"}, "financing_share"),
        ({"financing_share": "1.00000001"}, "financing_share"),
        ({"financing_share": "0.123456789"}, "financing_share"),
        ({"amount_allocated": "-1"}, "amount_allocated"),
        ({"note": "x"}, "note"),
    ],
)
def test_invalid_allocation_is_422(client: TestClient, changes: dict[str, Any], field: str) -> None:
    """Out-of-range shares, negative amounts and unknown fields are named; nothing is stored."""
    bond, asset = make_bond(client), make_asset(client)
    body = {**allocation_body(bond["id"], asset["id"]), **changes}
    assert_invalid(post(client, ALLOCATIONS, body), field)
    assert get(client, ALLOCATIONS).json()["items"] == []


def test_shares_of_an_asset_may_reach_but_not_exceed_one(client: TestClient) -> None:
    """Shares of one asset add up to at most 1: the allocation that would exceed it is refused
    (naming financing_share) while earlier ones stay, and filling exactly to 1 is accepted."""
    asset = make_asset(client)
    bonds = [make_bond(client, f"GB-{i}")["id"] for i in range(5)]
    shares = [Decimal("0.1"), Decimal("0.2")]
    accepted = [
        make_allocation(client, b, asset["id"], share=s)["id"]
        for b, s in zip(bonds, shares, strict=False)
    ]
    remainder = 1 - sum(shares)
    too_much = remainder + Decimal("0.00000001")

    response = post(client, ALLOCATIONS, allocation_body(bonds[2], asset["id"], share=too_much))
    assert_invalid(response, "financing_share")
    assert listed_ids(client, ALLOCATIONS, asset_id=asset["id"]) == accepted

    accepted.append(make_allocation(client, bonds[3], asset["id"], share=remainder)["id"])
    listed = walk(client, ALLOCATIONS, MAX_PAGE, asset_id=asset["id"])[0]
    assert [a["id"] for a in listed] == accepted
    assert sum(Decimal(a["financing_share"]) for a in listed) == 1

    smallest = Decimal("0.00000001")
    response = post(client, ALLOCATIONS, allocation_body(bonds[4], asset["id"], share=smallest))
    assert_invalid(response, "financing_share")
    assert listed_ids(client, ALLOCATIONS, asset_id=asset["id"]) == accepted


def test_shares_of_other_assets_do_not_count(client: TestClient) -> None:
    """The 100% cap is per asset: a full asset does not block allocations to another one."""
    bond = make_bond(client)
    full, other = make_asset(client, "FULL"), make_asset(client, "OTHER")
    make_allocation(client, make_bond(client, "GB-FULL")["id"], full["id"], share="1")
    make_allocation(client, bond["id"], other["id"], share="1")


def test_allocations_of_a_bond_may_reach_but_not_exceed_amount_issued(client: TestClient) -> None:
    """The amounts allocated from one bond add up to at most amount_issued: the allocation that
    would exceed it is refused (naming amount_allocated), an exact fill is accepted."""
    issued = Decimal("1000000.5")
    bond = make_bond(client, amount_issued=str(issued))
    assets = [make_asset(client, f"ASSET-{i}")["id"] for i in range(4)]
    first = make_allocation(client, bond["id"], assets[0], amount=issued * Decimal("0.6"))
    remainder = issued - Decimal(first["amount_allocated"])

    too_much = allocation_body(bond["id"], assets[1], amount=remainder + Decimal("0.01"))
    assert_invalid(post(client, ALLOCATIONS, too_much), "amount_allocated")
    assert listed_ids(client, ALLOCATIONS, bond_id=bond["id"]) == [first["id"]]

    last = make_allocation(client, bond["id"], assets[1], amount=remainder)
    listed = walk(client, ALLOCATIONS, MAX_PAGE, bond_id=bond["id"])[0]
    assert [a["id"] for a in listed] == [first["id"], last["id"]]
    assert sum(Decimal(a["amount_allocated"]) for a in listed) == issued

    extra = allocation_body(bond["id"], assets[2], amount="0.01")
    assert_invalid(post(client, ALLOCATIONS, extra), "amount_allocated")
    zero = make_allocation(client, bond["id"], assets[3], amount="0")
    assert Decimal(zero["amount_allocated"]) == 0


def test_malformed_json_is_422(client: TestClient) -> None:
    """A body that is not JSON is a 422 with the error body, not a 500."""
    response = client.post(
        BONDS, content=b"{not json", headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert_error(response, 422, "invalid_input")


# Meter deactivation


def test_deactivate_meter(client: TestClient) -> None:
    """Deactivation sets active false and stamps deactivated_at with the current time; a second
    call is idempotent and keeps the first time; other meters stay active."""
    asset = make_asset(client)
    meter, bystander = (
        make_meter(client, asset["id"], "d-1"),
        make_meter(client, asset["id"], "d-2"),
    )
    path = f"{METERS}/{meter['id']}/deactivate"

    before = datetime.now(UTC)
    first = client.post(path, headers=ADMIN)
    after = datetime.now(UTC)
    assert first.status_code == 200, first.text
    assert first.json()["active"] is False
    deactivated_at = parse_time(first.json()["deactivated_at"])
    assert before <= deactivated_at <= after

    second = client.post(path, headers=ADMIN)
    assert second.status_code == 200, second.text
    assert second.json()["active"] is False
    assert parse_time(second.json()["deactivated_at"]) == deactivated_at

    stored = get(client, f"{METERS}/{meter['id']}").json()
    assert stored["active"] is False
    assert parse_time(stored["deactivated_at"]) == deactivated_at
    unchanged = {k: v for k, v in meter.items() if k not in {"active", "deactivated_at"}}
    assert_matches(stored, unchanged)
    assert get(client, f"{METERS}/{bystander['id']}").json() == bystander


def test_identical_create_of_a_deactivated_meter_keeps_it_inactive(client: TestClient) -> None:
    """Retrying the original create after deactivation returns the stored, inactive meter."""
    asset = make_asset(client)
    body = meter_body(asset["id"])
    meter = create(client, METERS, body)
    assert client.post(f"{METERS}/{meter['id']}/deactivate", headers=ADMIN).status_code == 200
    retry = post(client, METERS, body)
    assert retry.status_code == 200, retry.text
    assert retry.json()["id"] == meter["id"]
    assert retry.json()["active"] is False


# Edge cases that once were 500s.

BIGINT_MAX = 2**63 - 1


@pytest.mark.parametrize("timezone", ["America", "Asia", "Etc"])
def test_timezone_directory_name_is_422(client: TestClient, timezone: str) -> None:
    """A tz database directory name is not a time zone: 422 naming timezone."""
    assert_invalid(post(client, ASSETS, asset_body(timezone=timezone)), "timezone")


def test_public_key_with_whitespace_is_422(client: TestClient) -> None:
    """A key written with spaces between its bytes is refused, not read as if they were not there
    (``bytes.fromhex`` alone would): 422 naming public_key_hex, and no meter is stored."""
    asset = make_asset(client)
    key = new_public_key()
    spaced = " ".join(key[i : i + 2] for i in range(0, len(key), 2))
    response = post(client, METERS, meter_body(asset["id"], public_key_hex=spaced))
    assert_invalid(response, "public_key_hex")
    [detail] = response.json()["error"]["details"]
    assert "hexadecimal" in detail["reason"]
    assert listed_ids(client, METERS) == []


@pytest.mark.parametrize("where", ["path", "cursor", "body"])
def test_id_above_bigint_is_a_client_error(client: TestClient, where: str) -> None:
    """An id no row can have is refused as input (422 naming it), not a server error."""
    too_big = BIGINT_MAX + 1
    if where == "path":
        assert_invalid(get(client, f"{BONDS}/{too_big}"), "bond_id")
    elif where == "cursor":
        assert_invalid(get(client, BONDS, cursor=str(too_big)), "cursor")
    else:
        asset = make_asset(client)
        assert_invalid(post(client, ALLOCATIONS, allocation_body(too_big, asset["id"])), "bond_id")


def test_largest_amounts_round_trip_exactly(client: TestClient) -> None:
    """The largest amount the schema allows (15 digits, 2 decimals) is stored exactly on both
    databases, so an identical retry is a 200; one more digit is refused up front."""
    body = bond_body(amount_issued="9999999999999.99")
    bond = create(client, BONDS, body)
    assert_matches(get(client, f"{BONDS}/{bond['id']}").json(), body)
    assert post(client, BONDS, body).status_code == 200
    assert_invalid(
        post(client, BONDS, bond_body(amount_issued="99999999999999.99")), "amount_issued"
    )
    assert_invalid(post(client, BONDS, bond_body(amount_issued="1.001")), "amount_issued")
