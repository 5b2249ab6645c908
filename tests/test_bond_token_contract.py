"""GreenBondToken and PersonalInfo on a real Anvil node (Berlin EVM, like the production chain):
the terms, holders' encrypted registrations, every transfer rule and each refusal, transfer
approval, locks, issue and redemption, the events, and each holding's share of the bond's totals
in a real ImpactRegistry; then a property test that runs random operations against a model of
the token."""

import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError
from web3.types import TxReceipt

from app.bonds.contracts import (
    BondTerms,
    deploy_green_bond_token,
    deploy_personal_info,
    green_bond_token,
    personal_info,
    terms_tuple,
    yyyymmdd,
)
from app.ledger.contract import deploy_registry
from app.pure.artifact import GREEN_BOND_TOKEN, PERSONAL_INFO, REGISTRY_ABI
from app.pure.holding import holder_share
from tests.anvil import AnvilNode, custom_error, run_anvil, send

ZERO = "0x0000000000000000000000000000000000000000"
INT128_MIN, INT128_MAX = -(2**127), 2**127 - 1
BOND_ID = 7
SUPPLY = 10_000
TERMS = BondTerms(
    name="Tokyo Green Retrofit Bond 2030",
    symbol="TGRB30",
    face_value=1_000_000,
    currency="JPY",
    interest_rate=12_500,
    interest_payment_dates=tuple(
        date(year, month, day)
        for year in range(2026, 2031)
        for month, day in [(3, 31), (9, 30)]
        if (year, month) != (2030, 9)
    ),
    redemption_date=date(2030, 3, 31),
    redemption_value=1_000_000,
    purpose="Energy efficiency retrofits of office buildings (ICMA GBP: energy efficiency)",
)


@dataclass
class Bond:
    """A fresh ImpactRegistry, PersonalInfo and token (issuer: the deployer of all three)."""

    anvil: AnvilNode
    w3: Web3
    issuer: LocalAccount
    registry: Contract
    info: Contract
    token: Contract

    def ok(self, account: LocalAccount, call: ContractFunction) -> TxReceipt:
        receipt = send(self.w3, account, call)
        assert receipt["status"] == 1
        return receipt

    def refused(self, account: LocalAccount, call: ContractFunction) -> tuple[Any, ...]:
        with pytest.raises(ContractCustomError) as e:
            call.call({"from": account.address})
        return custom_error(e, call.contract_abi)

    def holder(self, registered: bool = True) -> LocalAccount:
        account = self.anvil.funded_account()
        if registered:
            self.ok(account, self.info.functions.register(self.issuer.address, "ciphertext"))
        return account

    def holding(self, account: LocalAccount | str) -> tuple[int, int, int]:
        address = account if isinstance(account, str) else account.address
        balance, locked, pending = self.token.functions.holdingOf(address).call()
        return balance, locked, pending

    def checkpoint(self, totals: list[tuple[int, int, int]]) -> int:
        number: int = self.registry.functions.checkpointCount().call()
        root = bytes([number + 1]) * 32
        call = self.registry.functions.addCheckpoint(number + 1, root, 1, b"\x07" * 32, totals)
        self.ok(self.issuer, call)
        return number


def events(contract: Contract, receipt: TxReceipt) -> list[tuple[str, dict[str, Any]]]:
    """Every event of ``contract`` in the receipt, in log order, as (name, args)."""
    by_topic = {
        Web3.keccak(text=f"{e['name']}({','.join(i['type'] for i in e['inputs'])})"): e["name"]
        for e in contract.abi
        if e["type"] == "event"
    }
    found = []
    for log in receipt["logs"]:
        if log["address"] == contract.address and log["topics"][0] in by_topic:
            name = by_topic[log["topics"][0]]
            found.append((name, dict(getattr(contract.events, name)().process_log(log)["args"])))
    return found


@pytest.fixture(scope="module")
def anvil() -> Iterator[AnvilNode]:
    with run_anvil() as node:
        yield node


def new_bond(anvil: AnvilNode, terms: BondTerms = TERMS, supply: int = SUPPLY) -> Bond:
    w3 = anvil.web3()
    issuer = anvil.funded_account()
    registry = deploy_registry(w3, issuer)
    info = deploy_personal_info(w3, issuer)
    token = deploy_green_bond_token(
        w3,
        issuer,
        terms,
        initial_supply=supply,
        personal_info=info,
        impact_registry=registry,
        bond_id=BOND_ID,
    )
    return Bond(
        anvil,
        w3,
        issuer,
        w3.eth.contract(address=registry, abi=REGISTRY_ABI),
        personal_info(w3, info),
        green_bond_token(w3, token),
    )


@pytest.fixture
def bond(anvil: AnvilNode) -> Bond:
    return new_bond(anvil)


@pytest.fixture
def open_bond(bond: Bond) -> Bond:
    """Transferable, no approval."""
    bond.ok(bond.issuer, bond.token.functions.setTransferable(True))
    return bond


# --- deployment -------------------------------------------------------------------------------


def test_deployment_records_the_terms_and_links(bond: Bond) -> None:
    t, issuer = bond.token.functions, bond.issuer.address
    assert (t.name().call(), t.symbol().call(), t.currency().call()) == (
        TERMS.name,
        TERMS.symbol,
        TERMS.currency,
    )
    assert (t.faceValue().call(), t.interestRate().call(), t.redemptionValue().call()) == (
        TERMS.face_value,
        TERMS.interest_rate,
        TERMS.redemption_value,
    )
    assert t.interestPaymentDates().call() == [yyyymmdd(d) for d in TERMS.interest_payment_dates]
    assert t.interestPaymentDates().call()[:2] == [20260331, 20260930]
    assert t.redemptionDate().call() == 20300331
    assert t.purpose().call() == TERMS.purpose
    assert (t.issuer().call(), t.personalInfo().call(), t.impactRegistry().call()) == (
        issuer,
        bond.info.address,
        bond.registry.address,
    )
    assert t.bondId().call() == BOND_ID
    assert (t.isRedeemed().call(), t.transferable().call()) == (False, False)
    assert t.transferApprovalRequired().call() is False
    assert (t.totalSupply().call(), t.balanceOf(issuer).call()) == (SUPPLY, SUPPLY)
    assert bond.holding(issuer) == (SUPPLY, 0, 0)
    assert t.applicationCount().call() == 0
    (issued,) = bond.token.events.Issue().get_logs(from_block=0)
    assert dict(issued["args"]) == {
        "from": issuer,
        "target": issuer,
        "lockAddress": ZERO,
        "amount": SUPPLY,
    }
    code = bond.w3.eth.get_code(bond.info.address)
    assert code == bytes.fromhex(PERSONAL_INFO.deployed_bytecode[2:])


def test_no_initial_supply_no_issue_event(anvil: AnvilNode) -> None:
    bond = new_bond(anvil, supply=0)
    assert bond.token.functions.totalSupply().call() == 0
    assert list(bond.token.events.Issue().get_logs(from_block=0)) == []


@pytest.mark.parametrize(
    ("payment_dates", "redemption", "error"),
    [
        ([20300230], 20300331, ("InvalidDate", 20300230)),
        ([20290229], 20300331, ("InvalidDate", 20290229)),  # 2029 is not a leap year
        ([21000229], 21000331, ("InvalidDate", 21000229)),  # nor is 2100
        ([20301301], 20310331, ("InvalidDate", 20301301)),
        ([20300100], 20300331, ("InvalidDate", 20300100)),
        ([2030331], 20300331, ("InvalidDate", 2030331)),  # 7 digits
        ([], 0, ("InvalidDate", 0)),
        ([], 20300431, ("InvalidDate", 20300431)),
        ([20260331, 20260331], 20300331, ("ScheduleNotAscending", 1)),
        ([20260930, 20260331], 20300331, ("ScheduleNotAscending", 1)),
        ([20260331, 20300401], 20300331, ("ScheduleNotAscending", 2)),  # after redemption
    ],
)
def test_deployment_refuses_a_malformed_schedule(
    bond: Bond, payment_dates: list[int], redemption: int, error: tuple[Any, ...]
) -> None:
    raw = list(terms_tuple(TERMS))
    raw[5], raw[6] = payment_dates, redemption
    factory = bond.w3.eth.contract(abi=GREEN_BOND_TOKEN.abi, bytecode=GREEN_BOND_TOKEN.bytecode)
    constructor = factory.constructor(
        tuple(raw), SUPPLY, bond.info.address, bond.registry.address, BOND_ID
    )
    with pytest.raises(ContractCustomError) as e:
        constructor.estimate_gas({"from": bond.issuer.address})
    assert custom_error(e, GREEN_BOND_TOKEN.abi) == error


def test_deployment_accepts_a_leap_day_and_a_payment_on_the_redemption_date(
    anvil: AnvilNode,
) -> None:
    terms = replace(
        TERMS,
        interest_payment_dates=(date(2028, 2, 29), date(2030, 3, 31)),
        redemption_date=date(2030, 3, 31),
    )
    bond = new_bond(anvil, terms)
    assert bond.token.functions.interestPaymentDates().call() == [20280229, 20300331]


def test_deployment_refuses_zero_addresses(bond: Bond) -> None:
    factory = bond.w3.eth.contract(abi=GREEN_BOND_TOKEN.abi, bytecode=GREEN_BOND_TOKEN.bytecode)
    for info, registry in [(ZERO, bond.registry.address), (bond.info.address, ZERO)]:
        with pytest.raises(ContractCustomError) as e:
            factory.constructor(terms_tuple(TERMS), SUPPLY, info, registry, BOND_ID).estimate_gas(
                {"from": bond.issuer.address}
            )
        assert custom_error(e, GREEN_BOND_TOKEN.abi) == ("ZeroAddress",)


# --- PersonalInfo -----------------------------------------------------------------------------


def test_personal_info_is_ciphertext_only_the_issuer_reads(bond: Bond) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    clear = json.dumps({"name": "山田 花子", "address": "東京都千代田区1-1", "contact": "03-0000"})
    blob = key.public_key().encrypt(clear.encode(), oaep).hex()
    holder = bond.anvil.funded_account()
    f, issuer = bond.info.functions, bond.issuer.address

    assert f.isRegistered(holder.address, issuer).call() is False
    assert f.personalInfo(holder.address, issuer).call() == ""
    receipt = bond.ok(holder, f.register(issuer, blob))
    assert events(bond.info, receipt) == [
        ("Register", {"account": holder.address, "issuer": issuer})
    ]
    assert f.isRegistered(holder.address, issuer).call() is True
    stored = f.personalInfo(holder.address, issuer).call()
    assert "山田" not in stored and stored == blob
    assert key.decrypt(bytes.fromhex(stored), oaep).decode() == clear
    # Registered for this issuer only.
    assert f.isRegistered(holder.address, bond.anvil.funded_account().address).call() is False


def test_personal_info_registers_once_and_is_modified_by_holder_or_issuer(bond: Bond) -> None:
    f, issuer = bond.info.functions, bond.issuer
    holder, stranger = bond.anvil.funded_account(), bond.anvil.funded_account()
    assert bond.refused(holder, f.register(issuer.address, "")) == ("EmptyInfo",)
    assert bond.refused(holder, f.modify(holder.address, issuer.address, "v2")) == (
        "NotRegistered",
        holder.address,
        issuer.address,
    )
    bond.ok(holder, f.register(issuer.address, "v1"))
    assert bond.refused(holder, f.register(issuer.address, "v1 again")) == (
        "AlreadyRegistered",
        holder.address,
        issuer.address,
    )
    for by, blob in [(holder, "v2"), (issuer, "v3: re-encrypted under a new key")]:
        receipt = bond.ok(by, f.modify(holder.address, issuer.address, blob))
        assert events(bond.info, receipt) == [
            ("Modify", {"account": holder.address, "issuer": issuer.address, "by": by.address})
        ]
        assert f.personalInfo(holder.address, issuer.address).call() == blob
    assert bond.refused(stranger, f.modify(holder.address, issuer.address, "x")) == (
        "NotHolderOrIssuer",
        stranger.address,
    )
    assert bond.refused(holder, f.modify(holder.address, issuer.address, "")) == ("EmptyInfo",)


# --- the issuer's powers ----------------------------------------------------------------------


def test_only_the_issuer_may_run_issuer_functions(bond: Bond) -> None:
    other = bond.holder()
    t, a = bond.token.functions, other.address
    calls = [
        t.setTransferable(True),
        t.setTransferApprovalRequired(True),
        t.changeToRedeemed(),
        t.issueFrom(a, ZERO, 1),
        t.redeemFrom(bond.issuer.address, ZERO, 1),
        t.transferFrom(bond.issuer.address, a, 1),
        t.approveTransfer(0, ""),
        t.forceLock(a, bond.issuer.address, 1, ""),
        t.forceUnlock(a, bond.issuer.address, a, 0, ""),
    ]
    for call in calls:
        assert bond.refused(other, call) == ("NotIssuer", a), call.fn_name
    # Mined, not only simulated: the transaction reverts and nothing changes.
    assert send(bond.w3, other, t.issueFrom(a, ZERO, 5), gas=200_000)["status"] == 0
    assert (t.totalSupply().call(), t.balanceOf(a).call()) == (SUPPLY, 0)


def test_flags_are_set_by_the_issuer_with_events(bond: Bond) -> None:
    t = bond.token.functions
    receipt = bond.ok(bond.issuer, t.setTransferable(True))
    assert events(bond.token, receipt) == [("ChangeTransferable", {"value": True})]
    receipt = bond.ok(bond.issuer, t.setTransferApprovalRequired(True))
    assert events(bond.token, receipt) == [("ChangeTransferApprovalRequired", {"required": True})]
    assert t.transferable().call() and t.transferApprovalRequired().call()


def test_issue_and_redeem_on_free_and_locked_balances(bond: Bond) -> None:
    t, issuer = bond.token.functions, bond.issuer.address
    holder, custodian = bond.holder(), bond.anvil.funded_account()
    h, k = holder.address, custodian.address

    receipt = bond.ok(bond.issuer, t.issueFrom(h, ZERO, 300))
    assert events(bond.token, receipt) == [
        ("Issue", {"from": issuer, "target": h, "lockAddress": ZERO, "amount": 300})
    ]
    receipt = bond.ok(bond.issuer, t.issueFrom(h, k, 200))
    assert events(bond.token, receipt) == [
        ("Issue", {"from": issuer, "target": h, "lockAddress": k, "amount": 200})
    ]
    assert bond.holding(holder) == (300, 200, 0)
    assert (t.lockedOf(k, h).call(), t.lockedOf(h, k).call()) == (200, 0)
    assert t.totalSupply().call() == SUPPLY + 500

    assert bond.refused(bond.issuer, t.redeemFrom(h, ZERO, 301)) == (
        "InsufficientBalance",
        h,
        300,
        301,
    )
    assert bond.refused(bond.issuer, t.redeemFrom(h, k, 201)) == (
        "InsufficientLockedBalance",
        k,
        h,
        200,
        201,
    )
    receipt = bond.ok(bond.issuer, t.redeemFrom(h, k, 150))
    assert events(bond.token, receipt) == [
        ("Redeem", {"from": issuer, "target": h, "lockAddress": k, "amount": 150})
    ]
    bond.ok(bond.issuer, t.redeemFrom(h, ZERO, 100))
    assert bond.holding(holder) == (200, 50, 0)
    assert t.totalSupply().call() == SUPPLY + 250
    assert bond.refused(bond.issuer, t.issueFrom(ZERO, ZERO, 1)) == ("ZeroAddress",)


def test_forced_transfer_ignores_the_transfer_rules(bond: Bond) -> None:
    t = bond.token.functions
    stranger = bond.anvil.funded_account()  # not registered; transfers are disabled
    receipt = bond.ok(bond.issuer, t.transferFrom(bond.issuer.address, stranger.address, 40))
    assert events(bond.token, receipt) == [
        ("Transfer", {"from": bond.issuer.address, "to": stranger.address, "value": 40})
    ]
    assert t.balanceOf(stranger.address).call() == 40
    assert bond.refused(bond.issuer, t.transferFrom(stranger.address, bond.issuer.address, 41)) == (
        "InsufficientBalance",
        stranger.address,
        40,
        41,
    )
    assert bond.refused(bond.issuer, t.transferFrom(stranger.address, ZERO, 1)) == ("ZeroAddress",)
    bond.ok(bond.issuer, t.changeToRedeemed())
    bond.ok(bond.issuer, t.transferFrom(stranger.address, bond.issuer.address, 40))
    assert t.balanceOf(bond.issuer.address).call() == SUPPLY


# --- transfers --------------------------------------------------------------------------------


def test_transfer_to_a_registered_holder(open_bond: Bond) -> None:
    bond, t = open_bond, open_bond.token.functions
    holder = bond.holder()
    assert t.transfer(holder.address, 100).call({"from": bond.issuer.address}) is True
    receipt = bond.ok(bond.issuer, t.transfer(holder.address, 100))
    assert events(bond.token, receipt) == [
        ("Transfer", {"from": bond.issuer.address, "to": holder.address, "value": 100})
    ]
    assert (t.balanceOf(bond.issuer.address).call(), t.balanceOf(holder.address).call()) == (
        SUPPLY - 100,
        100,
    )
    assert bond.refused(holder, t.transfer(bond.issuer.address, 101)) == (
        "InsufficientBalance",
        holder.address,
        100,
        101,
    )


def test_transfer_refusals(open_bond: Bond) -> None:
    bond, t = open_bond, open_bond.token.functions
    holder, unregistered = bond.holder(), bond.anvil.funded_account()
    bond.ok(bond.issuer, t.transfer(holder.address, 100))
    h = holder.address

    assert bond.refused(holder, t.transfer(unregistered.address, 1)) == (
        "RecipientNotRegistered",
        unregistered.address,
    )
    assert bond.refused(holder, t.transfer(ZERO, 1)) == ("ZeroAddress",)
    # Registered for another issuer is not enough.
    bond.ok(unregistered, bond.info.functions.register(h, "ciphertext"))
    assert bond.refused(holder, t.transfer(unregistered.address, 1))[0] == "RecipientNotRegistered"
    # Mined, not only simulated.
    assert send(bond.w3, holder, t.transfer(unregistered.address, 1), gas=200_000)["status"] == 0
    assert t.balanceOf(h).call() == 100

    bond.ok(bond.issuer, t.setTransferApprovalRequired(True))
    assert bond.refused(holder, t.transfer(bond.issuer.address, 1)) == ("ApprovalRequired",)
    bond.ok(bond.issuer, t.setTransferable(False))
    assert bond.refused(holder, t.transfer(bond.issuer.address, 1)) == ("NotTransferable",)
    bond.ok(bond.issuer, t.changeToRedeemed())
    assert bond.refused(holder, t.transfer(bond.issuer.address, 1)) == ("BondRedeemed",)


def test_transfers_to_the_issuer_need_no_registration(open_bond: Bond) -> None:
    bond, t = open_bond, open_bond.token.functions
    holder = bond.holder()
    bond.ok(bond.issuer, t.transfer(holder.address, 100))
    assert (
        bond.info.functions.isRegistered(bond.issuer.address, bond.issuer.address).call() is False
    )
    bond.ok(holder, t.transfer(bond.issuer.address, 30))
    assert t.balanceOf(bond.issuer.address).call() == SUPPLY - 70


def test_redemption_is_final_and_stops_holders(open_bond: Bond) -> None:
    bond, t = open_bond, open_bond.token.functions
    holder = bond.holder()
    bond.ok(bond.issuer, t.transfer(holder.address, 100))
    receipt = bond.ok(bond.issuer, t.changeToRedeemed())
    assert events(bond.token, receipt) == [("ChangeToRedeemed", {})]
    assert t.isRedeemed().call() is True
    assert bond.refused(bond.issuer, t.changeToRedeemed()) == ("BondRedeemed",)
    assert bond.refused(bond.issuer, t.issueFrom(holder.address, ZERO, 1)) == ("BondRedeemed",)
    assert bond.refused(holder, t.transfer(bond.issuer.address, 1)) == ("BondRedeemed",)
    assert bond.refused(holder, t.lock(bond.issuer.address, 1, "")) == ("BondRedeemed",)
    # The issuer redeems the holders' units.
    bond.ok(bond.issuer, t.redeemFrom(holder.address, ZERO, 100))
    assert (t.balanceOf(holder.address).call(), t.totalSupply().call()) == (0, SUPPLY - 100)


# --- transfer approval ------------------------------------------------------------------------


@pytest.fixture
def approval_bond(open_bond: Bond) -> Bond:
    open_bond.ok(open_bond.issuer, open_bond.token.functions.setTransferApprovalRequired(True))
    return open_bond


def test_apply_approve_and_cancel(approval_bond: Bond) -> None:
    bond, t = approval_bond, approval_bond.token.functions
    issuer = bond.issuer.address
    alice, bob = bond.holder(), bond.holder()
    bond.ok(bond.issuer, t.transferFrom(issuer, alice.address, 500))

    receipt = bond.ok(alice, t.applyForTransfer(bob.address, 120, "trade 1"))
    assert events(bond.token, receipt) == [
        (
            "ApplyForTransfer",
            {"index": 0, "from": alice.address, "to": bob.address, "value": 120, "data": "trade 1"},
        )
    ]
    bond.ok(alice, t.applyForTransfer(bob.address, 80, "trade 2"))
    bond.ok(alice, t.applyForTransfer(issuer, 50, "back to the issuer"))
    assert bond.holding(alice) == (250, 0, 250)
    assert t.pendingTransfer(alice.address).call() == 250
    assert t.applicationCount().call() == 3
    assert t.applicationsForTransfer(1).call() == [alice.address, bob.address, 80, True]

    receipt = bond.ok(bond.issuer, t.approveTransfer(0, "approved"))
    assert events(bond.token, receipt) == [
        (
            "ApproveTransfer",
            {"index": 0, "from": alice.address, "to": bob.address, "data": "approved"},
        ),
        ("Transfer", {"from": alice.address, "to": bob.address, "value": 120}),
    ]
    assert bond.holding(alice) == (250, 0, 130)
    assert bond.holding(bob) == (120, 0, 0)
    assert t.applicationsForTransfer(0).call()[3] is False

    receipt = bond.ok(alice, t.cancelTransfer(1, "changed my mind"))
    assert events(bond.token, receipt) == [
        (
            "CancelTransfer",
            {"index": 1, "from": alice.address, "to": bob.address, "data": "changed my mind"},
        )
    ]
    bond.ok(bond.issuer, t.cancelTransfer(2, "refused by the issuer"))
    assert bond.holding(alice) == (380, 0, 0)
    assert t.totalSupply().call() == SUPPLY

    for index in range(3):
        assert bond.refused(bond.issuer, t.approveTransfer(index, "")) == (
            "ApplicationNotValid",
            index,
        )
        assert bond.refused(bond.issuer, t.cancelTransfer(index, "")) == (
            "ApplicationNotValid",
            index,
        )
    assert bond.refused(bond.issuer, t.approveTransfer(3, "")) == ("ApplicationNotFound", 3, 3)
    assert bond.refused(alice, t.cancelTransfer(9, "")) == ("ApplicationNotFound", 9, 3)


def test_apply_refusals(approval_bond: Bond) -> None:
    bond, t = approval_bond, approval_bond.token.functions
    alice, unregistered = bond.holder(), bond.anvil.funded_account()
    bond.ok(bond.issuer, t.transferFrom(bond.issuer.address, alice.address, 10))

    assert bond.refused(alice, t.applyForTransfer(unregistered.address, 1, "")) == (
        "RecipientNotRegistered",
        unregistered.address,
    )
    assert bond.refused(alice, t.applyForTransfer(bond.issuer.address, 11, "")) == (
        "InsufficientBalance",
        alice.address,
        10,
        11,
    )
    bond.ok(bond.issuer, t.setTransferApprovalRequired(False))
    assert bond.refused(alice, t.applyForTransfer(bond.issuer.address, 1, "")) == (
        "ApprovalNotRequired",
    )
    bond.ok(bond.issuer, t.setTransferable(False))
    assert bond.refused(alice, t.applyForTransfer(bond.issuer.address, 1, "")) == (
        "NotTransferable",
    )
    bond.ok(bond.issuer, t.changeToRedeemed())
    assert bond.refused(alice, t.applyForTransfer(bond.issuer.address, 1, "")) == ("BondRedeemed",)


def test_only_applicant_or_issuer_cancels_and_pending_survives_flag_changes(
    approval_bond: Bond,
) -> None:
    bond, t = approval_bond, approval_bond.token.functions
    alice, bob = bond.holder(), bond.holder()
    bond.ok(bond.issuer, t.transferFrom(bond.issuer.address, alice.address, 100))
    bond.ok(alice, t.applyForTransfer(bob.address, 60, ""))
    bond.ok(alice, t.applyForTransfer(bob.address, 40, ""))
    assert bond.refused(bob, t.cancelTransfer(0, "")) == ("NotApplicantOrIssuer", bob.address)

    # No longer required: what is pending stays pending, and the issuer still approves it.
    bond.ok(bond.issuer, t.setTransferApprovalRequired(False))
    bond.ok(bond.issuer, t.approveTransfer(0, ""))
    # Not transferable: approval is refused, cancelling still works.
    bond.ok(bond.issuer, t.setTransferable(False))
    assert bond.refused(bond.issuer, t.approveTransfer(1, "")) == ("NotTransferable",)
    bond.ok(bond.issuer, t.changeToRedeemed())
    assert bond.refused(bond.issuer, t.approveTransfer(1, "")) == ("BondRedeemed",)
    bond.ok(alice, t.cancelTransfer(1, ""))
    assert (bond.holding(alice), bond.holding(bob)) == ((40, 0, 0), (60, 0, 0))


# --- locks ------------------------------------------------------------------------------------


def test_lock_and_unlock_by_the_lock_address(open_bond: Bond) -> None:
    bond, t = open_bond, open_bond.token.functions
    alice, bob = bond.holder(), bond.holder()
    custodian, other_lock = bond.anvil.funded_account(), bond.anvil.funded_account()
    a, k = alice.address, custodian.address
    bond.ok(bond.issuer, t.transferFrom(bond.issuer.address, a, 500))

    receipt = bond.ok(alice, t.lock(k, 200, "collateral"))
    assert events(bond.token, receipt) == [
        ("Lock", {"account": a, "lockAddress": k, "value": 200, "data": "collateral"})
    ]
    bond.ok(alice, t.lock(other_lock.address, 50, ""))
    assert bond.holding(alice) == (250, 250, 0)
    assert (t.lockedOf(k, a).call(), t.totalLockedOf(a).call()) == (200, 250)
    assert bond.refused(alice, t.lock(k, 251, "")) == ("InsufficientBalance", a, 250, 251)
    assert bond.refused(alice, t.lock(ZERO, 1, "")) == ("ZeroAddress",)

    # Only the lock address releases: to anyone else the lock looks empty.
    assert bond.refused(alice, t.unlock(a, a, 1, "")) == ("InsufficientLockedBalance", a, a, 0, 1)
    assert bond.refused(custodian, t.unlock(a, a, 201, "")) == (
        "InsufficientLockedBalance",
        k,
        a,
        200,
        201,
    )
    receipt = bond.ok(custodian, t.unlock(a, a, 70, "released"))
    assert events(bond.token, receipt) == [
        (
            "Unlock",
            {"account": a, "lockAddress": k, "recipient": a, "value": 70, "data": "released"},
        )
    ]
    receipt = bond.ok(custodian, t.unlock(a, bob.address, 30, "settled"))
    assert events(bond.token, receipt)[0][1]["recipient"] == bob.address
    assert bond.holding(alice) == (320, 150, 0)
    assert bond.holding(bob) == (30, 0, 0)
    assert t.totalSupply().call() == SUPPLY


def test_unlocking_to_someone_else_is_a_transfer(open_bond: Bond) -> None:
    bond, t = open_bond, open_bond.token.functions
    alice, bob, unregistered = bond.holder(), bond.holder(), bond.anvil.funded_account()
    custodian = bond.anvil.funded_account()
    a, k = alice.address, custodian.address
    bond.ok(bond.issuer, t.transferFrom(bond.issuer.address, a, 100))
    bond.ok(alice, t.lock(k, 100, ""))

    assert bond.refused(custodian, t.unlock(a, unregistered.address, 1, "")) == (
        "RecipientNotRegistered",
        unregistered.address,
    )
    assert bond.refused(custodian, t.unlock(a, ZERO, 1, "")) == ("ZeroAddress",)
    bond.ok(bond.issuer, t.setTransferApprovalRequired(True))
    assert bond.refused(custodian, t.unlock(a, bob.address, 1, "")) == ("ApprovalRequired",)
    bond.ok(bond.issuer, t.setTransferable(False))
    assert bond.refused(custodian, t.unlock(a, bob.address, 1, "")) == ("NotTransferable",)
    bond.ok(custodian, t.unlock(a, a, 10, ""))  # back to the account: always allowed
    bond.ok(bond.issuer, t.changeToRedeemed())
    assert bond.refused(custodian, t.unlock(a, bob.address, 1, "")) == ("BondRedeemed",)
    bond.ok(custodian, t.unlock(a, a, 10, ""))
    assert bond.holding(alice) == (20, 80, 0)


def test_forced_lock_and_unlock(bond: Bond) -> None:
    t, issuer = bond.token.functions, bond.issuer
    alice, custodian, stranger = bond.holder(), bond.anvil.funded_account(), bond.holder(False)
    a, k = alice.address, custodian.address
    bond.ok(issuer, t.transferFrom(issuer.address, a, 100))

    receipt = bond.ok(issuer, t.forceLock(k, a, 60, "court order"))
    assert events(bond.token, receipt) == [
        ("ForceLock", {"account": a, "lockAddress": k, "value": 60, "data": "court order"})
    ]
    assert bond.refused(issuer, t.forceLock(k, a, 41, "")) == ("InsufficientBalance", a, 40, 41)
    assert bond.refused(issuer, t.forceLock(ZERO, a, 1, "")) == ("ZeroAddress",)
    assert bond.refused(issuer, t.forceUnlock(k, a, a, 61, "")) == (
        "InsufficientLockedBalance",
        k,
        a,
        60,
        61,
    )
    assert bond.refused(issuer, t.forceUnlock(k, a, ZERO, 1, "")) == ("ZeroAddress",)
    # Outside the transfer rules: to an unregistered account, transfers disabled.
    receipt = bond.ok(issuer, t.forceUnlock(k, a, stranger.address, 25, "inheritance"))
    assert events(bond.token, receipt) == [
        (
            "ForceUnlock",
            {
                "account": a,
                "lockAddress": k,
                "recipient": stranger.address,
                "value": 25,
                "data": "inheritance",
            },
        )
    ]
    assert (bond.holding(alice), bond.holding(stranger)) == ((40, 35, 0), (25, 0, 0))
    assert t.lockedOf(k, a).call() == 35


# --- the impact of a holding ------------------------------------------------------------------


def test_holder_impact_without_a_checkpoint(bond: Bond) -> None:
    t = bond.token.functions
    assert bond.refused(bond.issuer, t.holderImpact(bond.issuer.address)) == ("NoCheckpoint",)
    assert bond.refused(bond.issuer, t.holderImpactAt(bond.issuer.address, 0)) == (
        "CheckpointNotFound",
        0,
        0,
    )


def test_holder_impact_is_the_share_of_the_latest_checkpoint(approval_bond: Bond) -> None:
    bond, t = approval_bond, approval_bond.token.functions
    alice, bob, carol = bond.holder(), bond.holder(), bond.holder()
    custodian = bond.anvil.funded_account()
    issuer = bond.issuer.address
    # alice: free, locked and pending units; bob: only locked (issued so); carol: nothing.
    bond.ok(bond.issuer, t.transferFrom(issuer, alice.address, 1_234))
    bond.ok(alice, t.lock(custodian.address, 111, ""))
    bond.ok(alice, t.applyForTransfer(bob.address, 222, ""))
    bond.ok(bond.issuer, t.issueFrom(bob.address, custodian.address, 777))
    supply = SUPPLY + 777
    holdings = {
        issuer: SUPPLY - 1_234,
        alice.address: 1_234,
        bob.address: 777,
        carol.address: 0,
        custodian.address: 0,
    }
    assert sum(holdings.values()) == t.totalSupply().call() == supply

    first = (1_234_567_891, -98_765_431)
    latest = (-5_000_003, 2_100_001)
    n0 = bond.checkpoint([(1, 5, 5), (BOND_ID, *first), (9, 1, 1)])
    n1 = bond.checkpoint([(BOND_ID, *latest), (2**64 - 1, 0, 0)])
    assert (n0, n1) == (0, 1)
    for account, holding in holdings.items():
        expected = [holder_share(total, holding, supply) for total in latest]
        assert t.holderImpact(account).call() == [n1, holding, supply, *expected]
        expected = [holder_share(total, holding, supply) for total in first]
        assert t.holderImpactAt(account, n0).call() == [n0, holding, supply, *expected]
    # The approved transfer moves the pending units, and their impact, to bob.
    bond.ok(bond.issuer, t.approveTransfer(0, ""))
    alice_impact, bob_impact = (t.holderImpact(a).call() for a in (alice.address, bob.address))
    assert alice_impact[1:3] == [1_012, supply] and bob_impact[1:3] == [999, supply]
    assert bob_impact[3] == holder_share(latest[0], 999, supply)
    assert bond.refused(bond.issuer, t.holderImpactAt(issuer, 2)) == ("CheckpointNotFound", 2, 2)


def test_holder_impact_rounds_toward_zero(open_bond: Bond) -> None:
    bond, t = open_bond, open_bond.token.functions
    holder = bond.holder()
    bond.ok(bond.issuer, t.transfer(holder.address, 1))
    # 1 unit of 10_000 and totals that do not divide evenly, of both signs.
    total_r, total_c = -10_001, 10_001
    bond.checkpoint([(BOND_ID, total_r, total_c)])
    _, holding, supply, reduction, co2 = t.holderImpact(holder.address).call()
    assert (holding, supply) == (1, SUPPLY)
    assert reduction == -(10_001 * 1 // SUPPLY) == -1
    assert reduction != total_r * holding // supply  # Python floors: -2; the contract truncates
    assert co2 == 10_001 * 1 // SUPPLY == 1


def test_holder_impact_of_a_bond_absent_from_the_checkpoint(bond: Bond) -> None:
    n = bond.checkpoint([(BOND_ID - 1, 10, 10), (BOND_ID + 1, 10, 10)])
    assert bond.token.functions.holderImpact(bond.issuer.address).call() == [
        n,
        SUPPLY,
        SUPPLY,
        0,
        0,
    ]
    n = bond.checkpoint([])
    assert bond.token.functions.holderImpact(bond.issuer.address).call() == [
        n,
        SUPPLY,
        SUPPLY,
        0,
        0,
    ]


def test_holder_impact_extremes_and_empty_supply(anvil: AnvilNode) -> None:
    bond = new_bond(anvil)
    t = bond.token.functions
    holder = bond.anvil.funded_account()
    huge = 2**255  # total x holding overflows 256 bits: the product is 512-bit
    bond.ok(bond.issuer, t.issueFrom(holder.address, ZERO, huge))
    supply = SUPPLY + huge
    bond.checkpoint([(BOND_ID, INT128_MIN, INT128_MAX)])
    assert t.holderImpact(holder.address).call() == [
        0,
        huge,
        supply,
        holder_share(INT128_MIN, huge, supply),
        holder_share(INT128_MAX, huge, supply),
    ]
    assert t.holderImpact(bond.issuer.address).call()[3:] == [
        holder_share(INT128_MIN, SUPPLY, supply),
        holder_share(INT128_MAX, SUPPLY, supply),
    ]

    empty = new_bond(anvil, supply=0)
    empty.checkpoint([(BOND_ID, -7, 7)])
    assert empty.token.functions.holderImpact(empty.issuer.address).call() == [0, 0, 0, 0, 0]


# --- property: random operations against a model ----------------------------------------------

# Actors by index: 0 the issuer, 1-3 registered holders, 4 an unregistered account, 5 a
# custodian (unregistered; also a lock address). Lock addresses by index: the custodian, holder 1.
ACTORS, LOCKS = 6, (5, 1)
actor = st.integers(0, ACTORS - 1)
lock_index = st.integers(0, len(LOCKS) - 1)
amount = st.integers(0, 600)
application = st.integers(0, 2)
moves = [
    st.tuples(st.just("transfer"), actor, actor, amount),
    st.tuples(st.just("apply"), actor, actor, amount),
    st.tuples(st.just("approve"), application),
    st.tuples(st.just("cancel"), actor, application),
    st.tuples(st.just("lock"), actor, lock_index, amount),
    st.tuples(st.just("unlock"), lock_index, actor, actor, amount),
]
operation = st.one_of(
    # The holders' moves twice as likely as the issuer's. The flags and redemption, which
    # decide whether most moves are refused, are not drawn here but placed a few times in the
    # sequence (redemption once at most): see ``insertions``.
    *moves,
    *moves,
    st.tuples(st.just("issue"), actor, st.none() | lock_index, amount),
    st.tuples(st.just("redeem"), actor, st.none() | lock_index, amount),
    st.tuples(st.just("transferFrom"), actor, actor, amount),
    st.tuples(st.just("forceLock"), lock_index, actor, amount),
    st.tuples(st.just("forceUnlock"), lock_index, actor, actor, amount),
)
flag = st.tuples(st.sampled_from(["setTransferable", "setApproval"]), st.booleans())
insertions = st.tuples(
    st.lists(st.tuples(st.integers(0, 30), flag), max_size=3),
    st.none() | st.integers(0, 30),  # where the bond is redeemed
)


@dataclass
class Model:
    """What the token should hold, with the contract's rules in the contract's order."""

    issuer: str
    registered: set[str]
    balance: defaultdict[str, int]
    locked: defaultdict[tuple[str, str], int]  # (lock address, account)
    pending: defaultdict[str, int]
    applications: list[list[Any]]  # [from, to, amount, valid]
    supply: int
    transferable: bool
    approval: bool
    redeemed: bool = False

    def movable(self) -> str | None:
        if self.redeemed:
            return "BondRedeemed"
        return None if self.transferable else "NotTransferable"

    def recipient(self, to: str) -> str | None:
        return None if to == self.issuer or to in self.registered else "RecipientNotRegistered"

    def free_transfer(self, to: str) -> str | None:
        return self.movable() or ("ApprovalRequired" if self.approval else self.recipient(to))

    def debit(self, account: str, value: int) -> str | None:
        return "InsufficientBalance" if self.balance[account] < value else None

    def unlocked(self, lock: str, account: str, value: int) -> str | None:
        return "InsufficientLockedBalance" if self.locked[(lock, account)] < value else None

    def application(self, index: int) -> str | None:
        return "ApplicationNotFound" if index >= len(self.applications) else None


def step(
    model: Model, bond: Bond, accounts: list[LocalAccount], op: tuple[Any, ...]
) -> tuple[LocalAccount, ContractFunction, str | None, Callable[[], None]]:
    """(sender, call, the error the model expects or None, the model's change on success)."""
    t, m, issuer = bond.token.functions, model, accounts[0]
    a = [x.address for x in accounts]
    kind, args = op[0], op[1:]

    if kind == "issue" or kind == "redeem":
        target, lock_i, value = a[args[0]], args[1], args[2]
        lock = ZERO if lock_i is None else a[LOCKS[lock_i]]
        sign = 1 if kind == "issue" else -1

        def supply() -> None:
            if lock == ZERO:
                m.balance[target] += sign * value
            else:
                m.locked[(lock, target)] += sign * value
            m.supply += sign * value

        if kind == "issue":
            error = "BondRedeemed" if m.redeemed else None
            return issuer, t.issueFrom(target, lock, value), error, supply
        error = m.debit(target, value) if lock == ZERO else m.unlocked(lock, target, value)
        return issuer, t.redeemFrom(target, lock, value), error, supply

    if kind == "transfer" or kind == "transferFrom":
        frm, to, value = a[args[0]], a[args[1]], args[2]

        def move() -> None:
            m.balance[frm] -= value
            m.balance[to] += value

        if kind == "transfer":
            error = m.free_transfer(to) or m.debit(frm, value)
            return accounts[args[0]], t.transfer(to, value), error, move
        return issuer, t.transferFrom(frm, to, value), m.debit(frm, value), move

    if kind == "apply":
        frm, to, value = a[args[0]], a[args[1]], args[2]
        error = (
            m.movable()
            or (None if m.approval else "ApprovalNotRequired")
            or m.recipient(to)
            or m.debit(frm, value)
        )

        def apply() -> None:
            m.balance[frm] -= value
            m.pending[frm] += value
            m.applications.append([frm, to, value, True])

        return accounts[args[0]], t.applyForTransfer(to, value, "apply"), error, apply

    if kind == "approve" or kind == "cancel":
        by = 0 if kind == "approve" else args[0]
        # Counted back from the latest application, so most name one; past the first: none.
        count, back = len(m.applications), args[-1]
        index = count - 1 - back if back < count else count + back
        error = m.movable() if kind == "approve" else None
        error = error or m.application(index)
        if error is None:
            frm, to, value, valid = m.applications[index]
            if kind == "cancel" and a[by] not in (frm, m.issuer):
                error = "NotApplicantOrIssuer"
            elif not valid:
                error = "ApplicationNotValid"

        def settle() -> None:
            frm, to, value, _ = m.applications[index]
            m.applications[index][3] = False
            m.pending[frm] -= value
            m.balance[to if kind == "approve" else frm] += value

        call = t.approveTransfer if kind == "approve" else t.cancelTransfer
        return accounts[by], call(index, kind), error, settle

    if kind == "lock" or kind == "forceLock":
        account_i, lock_i, value = (args[0], args[1], args[2])
        if kind == "forceLock":
            lock_i, account_i = args[0], args[1]
        account, lock = a[account_i], a[LOCKS[lock_i]]

        def lock_up() -> None:
            m.balance[account] -= value
            m.locked[(lock, account)] += value

        if kind == "lock":
            error = ("BondRedeemed" if m.redeemed else None) or m.debit(account, value)
            return accounts[account_i], t.lock(lock, value, "lock"), error, lock_up
        return issuer, t.forceLock(lock, account, value, "force"), m.debit(account, value), lock_up

    if kind == "unlock" or kind == "forceUnlock":
        lock_i, account, recipient, value = LOCKS[args[0]], a[args[1]], a[args[2]], args[3]
        lock = a[lock_i]

        def release() -> None:
            m.locked[(lock, account)] -= value
            m.balance[recipient] += value

        if kind == "unlock":
            error = (m.free_transfer(recipient) if recipient != account else None) or m.unlocked(
                lock, account, value
            )
            return accounts[lock_i], t.unlock(account, recipient, value, "unlock"), error, release
        call = t.forceUnlock(lock, account, recipient, value, "force")
        return issuer, call, m.unlocked(lock, account, value), release

    if kind == "setTransferable" or kind == "setApproval":

        def flag() -> None:
            if kind == "setTransferable":
                m.transferable = args[0]
            else:
                m.approval = args[0]

        call = t.setTransferable if kind == "setTransferable" else t.setTransferApprovalRequired
        return issuer, call(args[0]), None, flag

    def redeem() -> None:
        m.redeemed = True

    return issuer, t.changeToRedeemed(), "BondRedeemed" if m.redeemed else None, redeem


def example_bond(base: Bond, accounts: list[LocalAccount], approval: bool) -> tuple[Bond, Model]:
    """A new token of ``base``'s issuer for one example, and its model: holders 1-3 start with
    1,000 units each (so their moves are not all refused), transfers on, approval as drawn."""
    w3, issuer = base.w3, base.issuer
    address = deploy_green_bond_token(
        w3,
        issuer,
        TERMS,
        initial_supply=SUPPLY,
        personal_info=base.info.address,
        impact_registry=base.registry.address,
        bond_id=BOND_ID,
    )
    bond = replace(base, token=green_bond_token(w3, address))
    t = bond.token.functions
    for holder in accounts[1:4]:
        bond.ok(issuer, t.transferFrom(issuer.address, holder.address, 1_000))
    bond.ok(issuer, t.setTransferable(True))
    if approval:
        bond.ok(issuer, t.setTransferApprovalRequired(True))
    model = Model(
        issuer=issuer.address,
        registered={x.address for x in accounts[1:4]},
        balance=defaultdict(
            int, {str(x.address): 1_000 for x in accounts[1:4]} | {issuer.address: SUPPLY - 3_000}
        ),
        locked=defaultdict(int),
        pending=defaultdict(int),
        applications=[],
        supply=SUPPLY,
        transferable=True,
        approval=approval,
    )
    return bond, model


def play(
    bond: Bond,
    model: Model,
    accounts: list[LocalAccount],
    operations: list[tuple[Any, ...]],
    inserted: tuple[list[tuple[int, tuple[str, bool]]], int | None],
    before_each: Callable[[int], None] | None = None,
) -> None:
    """Runs the operations, with the flags and the redemption inserted where drawn: each one
    the model accepts is sent (and applied to the model), each one it refuses is refused by the
    contract with the same error. ``before_each(i)`` runs before the i-th."""
    flags, redeem_at = inserted
    for at, op in flags:
        operations.insert(at, op)
    if redeem_at is not None:
        operations.insert(redeem_at, ("redeemed",))
    for i, op in enumerate(operations):
        if before_each is not None:
            before_each(i)
        sender, call, error, change = step(model, bond, accounts, op)
        if error is None:
            bond.ok(sender, call)
            change()
        else:
            assert bond.refused(sender, call)[0] == error, op


@pytest.fixture(scope="module")
def shared(anvil: AnvilNode) -> tuple[Bond, list[LocalAccount]]:
    """One registry and PersonalInfo, the actors funded and holders 1-3 registered; each example
    deploys a token of its own from the same issuer."""
    bond = new_bond(anvil)
    accounts = [bond.issuer] + [bond.holder(registered=i <= 3) for i in range(1, ACTORS)]
    return bond, accounts


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    operations=st.lists(operation, min_size=15, max_size=30),
    inserted=insertions,
    approval=st.booleans(),
    totals=st.tuples(st.integers(INT128_MIN, INT128_MAX), st.integers(INT128_MIN, INT128_MAX)),
)
# One sequence where every kind of operation succeeds at least once, whatever is drawn.
@example(
    operations=[
        ("apply", 1, 2, 100),
        ("apply", 2, 0, 50),
        ("apply", 3, 1, 70),
        ("approve", 2),  # the first application
        ("cancel", 2, 1),  # the second, by its applicant
        ("cancel", 0, 0),  # the third, by the issuer
        ("lock", 1, 0, 200),
        ("unlock", 0, 1, 1, 50),
        ("forceLock", 1, 3, 10),
        ("forceUnlock", 1, 3, 2, 10),
        ("issue", 4, 0, 500),
        ("issue", 4, None, 5),
        ("redeem", 4, 0, 100),
        ("redeem", 2, None, 100),
        ("transferFrom", 0, 4, 300),
        ("transfer", 1, 3, 25),  # approval is switched off just before it (inserted)
    ],
    inserted=([(15, ("setApproval", False))], 17),
    approval=True,
    totals=(-7_654_321, 3_333_333),
)
def test_random_operations_keep_the_books_and_the_impact_bounded(
    shared: tuple[Bond, list[LocalAccount]],
    operations: list[tuple[Any, ...]],
    inserted: tuple[list[tuple[int, tuple[str, bool]]], int | None],
    approval: bool,
    totals: tuple[int, int],
) -> None:
    base, accounts = shared
    bond, model = example_bond(base, accounts, approval)
    t = bond.token.functions
    play(bond, model, accounts, operations, inserted)

    # The books: every account's position as the model has it, and they add up to the supply.
    a = [x.address for x in accounts]
    assert t.totalSupply().call() == model.supply
    positions = {x: bond.holding(x) for x in a}
    for x in a:
        locked = sum(v for (_, acct), v in model.locked.items() if acct == x)
        assert positions[x] == (model.balance[x], locked, model.pending[x])
        for lock in LOCKS:
            assert t.lockedOf(a[lock], x).call() == model.locked[(a[lock], x)]
    assert sum(sum(p) for p in positions.values()) == model.supply
    assert t.applicationCount().call() == len(model.applications)

    # The impact: each holder's share truncated toward zero; together never beyond the total.
    number = bond.checkpoint([(BOND_ID, *totals)])
    shares = [t.holderImpact(x).call() for x in a]
    for x, share in zip(a, shares, strict=True):
        holding = sum(positions[x])
        assert share == [
            number,
            holding,
            model.supply,
            *(holder_share(total, holding, model.supply) for total in totals),
        ]
    for k, total in enumerate(totals):
        attributed = [share[3 + k] for share in shares]
        assert all(v == 0 or (v < 0) == (total < 0) for v in attributed)
        assert abs(sum(attributed)) <= abs(total)
