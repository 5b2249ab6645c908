"""The dashboard's "My holding" panel in a real browser (Debian's Chromium, Playwright) against a
real uvicorn server and a real Anvil node: the page signs an EIP-4361 message with a pasted key
(secp256k1 and keccak-256 from @noble in the browser; the key is never sent), shows the account's
holdings from the API, and checks them against the token's holderImpactAt on chain. Also
`gbt-verify holding --api`, which fetches the statement with the sign-in token."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account

from app.audit.verify import cli as verifier
from tests.chain_helpers import Chain
from tests.conftest import ADMIN, Fleet, allocate, create_bond
from tests.holding_helpers import SeededToken, bearer, seed_token, sign_in
from tests.impact_helpers import real_now, run_pipeline
from tests.test_dashboard import (  # noqa: F401 (browser is a fixture)
    ARTIFACTS,
    JST,
    Page,
    browser,
    readings,
    served_with_chain,
)

DAYS = 6


@dataclass
class HoldingSite:
    url: str
    http: httpx.Client
    chain: Chain
    bond_id: int
    seed: SeededToken


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HoldingSite]:
    """A bond financing one office building, six days of readings anchored in checkpoint 0,
    and its token held by alice (free, locked and pending units) and bob."""
    with served_with_chain(tmp_path_factory.mktemp("holding")) as (app, chain, base, http):
        fleet = Fleet(http)  # type: ignore[arg-type]
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        first = now.astimezone(JST).date() - timedelta(days=DAYS)
        bond_id = create_bond(http, "JP-GB-HOLD", issue_date=first.isoformat())
        asset = fleet.asset(name="Kashiwa Research Building", floor_area_m2="12000")
        meter = fleet.meter(asset_id=asset["id"])
        allocate(http, bond_id, asset["id"], "0.4")
        response = http.post(
            f"/v1/admin/assets/{asset['id']}/benchmarks",
            json={
                "effective_from": first.isoformat(),
                "params": {"method": "intensity", "building_type": "office"},
            },
            headers=ADMIN,
        )
        assert response.status_code == 201, response.text
        posted = fleet.post(meter, 1, readings(first, DAYS, 50_000, 110_000, now))
        assert posted.status_code == 200, posted.text
        run_pipeline(app, chain, impact_at=real_now())
        with app.state.session_factory() as session:
            seed = seed_token(session, chain, bond_id)
        yield HoldingSite(base, http, chain, bond_id, seed)


@pytest.fixture
def page(browser: Any, site: HoldingSite) -> Iterator[Page]:  # noqa: F811
    p = Page(browser, site.url)
    yield p
    p.close()


def kwh(value: str) -> str:
    return f"{Decimal(value).quantize(Decimal('0.1'), ROUND_HALF_UP):,}"


def sign_in_with_key(p: Any, key: str) -> None:
    p.fill("#signin-key", key)
    p.click("#signin-button")
    p.wait_for_selector("#holding-result .holding, #holding-result .note, #holding-result .error")


def test_sign_in_shows_the_holding_and_checks_it_on_chain(page: Page, site: HoldingSite) -> None:
    alice = site.seed.alice
    sent: list[str] = []
    p = page.open()
    p.on("request", lambda r: sent.append(f"{r.url} {r.post_data or ''}"))
    assert p.is_visible("#signin-form")
    key = alice.key.hex()
    sign_in_with_key(p, key)
    assert key.removeprefix("0x") not in " ".join(sent).lower()  # the key stays in the page
    assert p.input_value("#signin-key") == ""
    assert alice.address in p.text_content(".signed-in")
    assert not p.is_visible("#signin-form")
    statement = site.http.get(
        "/v1/investor/holdings", params={"account": alice.address}, headers=ADMIN
    ).json()
    [holding] = statement["holdings"]
    impact = holding["impact"]
    card = p.locator(f".holding[data-bond='{site.bond_id}']")
    text = card.text_content()
    assert "3,500 / 10,500 (33.33%)" in text
    assert "2,800 free, 500 locked, 200 pending transfer" in text
    assert f"{holding['block_number']:,}" in text
    assert card.locator("[data-figure='reduction']").text_content() == kwh(
        impact["energy_reduction_kwh"]
    )
    assert Decimal(impact["energy_reduction_kwh"]) > 0
    assert f"checkpoint {impact['checkpoint_number']}" in text
    card.locator("button.chain-check").click()
    result = card.locator(".chain-result[data-outcome='ok']")
    result.wait_for(timeout=20_000)
    checks = result.locator("li")
    assert checks.count() == 6
    assert result.locator("li[data-ok='true']").count() == 6
    assert f"statement {impact['reduction_wh']}, contract {impact['reduction_wh']}" in (
        result.text_content()
    )
    p.locator("#holding").screenshot(path=str(ARTIFACTS / "holding-signed-in.png"))
    # The sign-in survives a reload of the tab; signing out forgets it.
    p.reload()
    p.wait_for_selector("body[data-ready='true']")
    p.wait_for_selector(".holding")
    p.click("#signout-button")
    assert p.is_visible("#signin-form") and p.locator(".holding").count() == 0
    assert page.problems == []


def test_other_accounts_and_bad_keys(page: Page, site: HoldingSite) -> None:
    p = page.open()
    sign_in_with_key(p, "0x1234")
    assert "64 hex digits" in p.text_content("#holding-result .error")
    assert p.is_visible("#signin-form")
    sign_in_with_key(p, Account.create().key.hex())  # a valid account holding nothing
    assert "holds no units" in p.text_content("#holding-result")
    p.click("#signout-button")
    sign_in_with_key(p, site.seed.bob.key.hex())
    assert "6,000 / 10,500" in p.text_content(".holding")
    p.click("[data-lang='ja']")
    assert "保有口数" in p.text_content(".holding")
    p.locator("#holding").screenshot(path=str(ARTIFACTS / "holding-ja.png"))
    assert page.problems == []


def test_gbt_verify_holding_fetches_the_statement_with_the_token(
    site: HoldingSite, capsys: pytest.CaptureFixture[str]
) -> None:
    assert site.chain.node is not None
    token = sign_in(site.http, site.seed.alice)
    rpc = ["--rpc", site.chain.node.url]
    assert verifier.run(["holding", "--api", site.url, "--token", token, *rpc]) == 0
    out = capsys.readouterr().out
    assert f"statement of {site.seed.alice.address}: 1 holding(s) match the chain" in out
    # The admin token reads any account's; a sign-in token only its own (HTTP 403: unusable).
    admin = ["--api", site.url, "--token", ADMIN["Authorization"].split()[1]]
    bob = ["--account", site.seed.bob.address]
    assert verifier.run(["holding", *admin, *bob, *rpc]) == 0
    assert verifier.run(["holding", "--api", site.url, "--token", token, *bob, *rpc]) == 2
    assert "HTTP 403" in capsys.readouterr().err
    assert site.http.get("/v1/investor/holdings", headers=bearer(token)).status_code == 200


def test_the_signing_libraries_are_served(site: HoldingSite, tmp_path: Path) -> None:
    for path in ("noble-curves/secp256k1.js", "noble-hashes/sha3.js", "noble-hashes/utils.js"):
        response = site.http.get(f"/dashboard/vendor/{path}")
        assert response.status_code == 200, path
        assert "javascript" in response.headers["content-type"]
