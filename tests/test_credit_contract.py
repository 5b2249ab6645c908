"""CarbonCredit on a real Anvil node (Berlin EVM, like the production chain), against a real
ImpactRegistry holding checkpoints of a small RFC 9162 log built with app.pure.merkle: issuance
(balances, supply, the record and its event, contiguous serials per token id), transfers,
retirement (FIFO serials across holders and issuance blocks), and every refusal with its custom
error and figures; the API errors those refusals become; and the vendored ERC1155 being
OpenZeppelin's but for the one documented change."""

import json
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError
from web3.logs import DISCARD
from web3.types import TxReceipt

from app.bonds.contracts import decode_custom_error
from app.bonds.refusals import refusal
from app.credits.contract import (
    ISSUER_ROLE,
    IssueRequest,
    carbon_credit,
    constructor_call,
    day_number,
    day_of,
    deploy_carbon_credit,
    token_id_of,
)
from app.ledger.anvil import REPO
from app.ledger.contract import deploy_registry, send_transaction
from app.pure import merkle
from app.pure.artifact import CARBON_CREDIT, REGISTRY_ABI
from tests.anvil import AnvilNode, custom_error, run_anvil, send

ZERO = "0x0000000000000000000000000000000000000000"
ADMIN_ROLE = b"\x00" * 32
UINT16_MAX, UINT64_MAX = 2**16 - 1, 2**64 - 1
URI = "https://credits.example/{id}.json"
PROJECT = 42
Q1 = (date(2025, 1, 1), date(2025, 3, 31))
Q2 = (date(2025, 4, 1), date(2025, 6, 30))


def end_of(day: date) -> int:
    """Unix seconds at the end of ``day`` (UTC), computed independently of day_number."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) + 86_400


@dataclass
class Credits:
    """A fresh ImpactRegistry and CarbonCredit (admin and issuer: the deployer of both), and an
    in-memory log whose tree heads the registry's checkpoints commit to."""

    anvil: AnvilNode
    w3: Web3
    issuer: LocalAccount
    registry: Contract
    token: Contract
    leaves: list[bytes] = field(default_factory=list)  # leaf hashes, by index
    sizes: list[int] = field(default_factory=list)  # tree size of each checkpoint, by number

    def ok(self, account: LocalAccount, call: ContractFunction) -> TxReceipt:
        receipt = send(self.w3, account, call)
        assert receipt["status"] == 1
        return receipt

    def refused(
        self, call: ContractFunction, account: LocalAccount | None = None
    ) -> tuple[Any, ...]:
        with pytest.raises(ContractCustomError) as e:
            call.call({"from": (account or self.issuer).address})
        return custom_error(e, call.contract_abi)

    def node(self, level: int, index: int) -> bytes:
        if level == 0:
            return self.leaves[index]
        return merkle.node_hash(
            self.node(level - 1, 2 * index), self.node(level - 1, 2 * index + 1)
        )

    def append(self, leaf: bytes) -> int:
        self.leaves.append(merkle.leaf_hash(leaf))
        return len(self.leaves) - 1

    def approval(self, report: str) -> int:
        """Appends a meter reading and the verifier's approval of ``report``; the approval's
        leaf index."""
        self.append(json.dumps({"kind": "reading", "n": len(self.leaves)}).encode())
        verdict = {"kind": "verification", "report_hash": self.report_hash(report).hex()}
        return self.append(json.dumps({**verdict, "verdict": "approved"}).encode())

    @staticmethod
    def report_hash(report: str) -> bytes:
        return Web3.keccak(text=report)

    def checkpoint(self, closes_at: int) -> int:
        """Anchors the log as it is now; the checkpoint's number."""
        size = len(self.leaves)
        root = merkle.root(self.node, size)
        call = self.registry.functions.addCheckpoint(size, root, closes_at, b"\x07" * 32, [])
        self.ok(self.issuer, call)
        self.sizes.append(size)
        return len(self.sizes) - 1

    def request(
        self,
        index: int,
        checkpoint: int,
        period: tuple[date, date] = Q1,
        *,
        amount: int = 100,
        to: str,
        project_id: int = PROJECT,
        vintage: int | None = None,
        serial_first: int | None = None,
    ) -> IssueRequest:
        """An issuance of the approval at leaf ``index``, proven in ``checkpoint``'s tree; by
        default the period's year as vintage and the token id's next serial."""
        vintage = period[0].year if vintage is None else vintage
        if serial_first is None:
            serial_first = self.next_serial(token_id_of(project_id, vintage))
        return IssueRequest(
            project_id=project_id,
            vintage=vintage,
            to=Web3.to_checksum_address(to),
            amount=amount,
            serial_first=serial_first,
            period_first_day=period[0],
            period_last_day=period[1],
            checkpoint=checkpoint,
            report_hash=self.report_hash(f"report {index}"),
            approval_leaf_hash=self.leaves[index],
            approval_leaf_index=index,
            approval_proof=tuple(merkle.inclusion_proof(self.node, index, self.sizes[checkpoint])),
        )

    def issue_call(self, request: IssueRequest) -> ContractFunction:
        return self.token.functions.issue(request.as_tuple())

    def issue(self, request: IssueRequest) -> TxReceipt:
        return self.ok(self.issuer, self.issue_call(request))

    def anchored(
        self, period: tuple[date, date] = Q1, *, report: str = "report"
    ) -> tuple[int, int]:
        """A new approval anchored in a new checkpoint closing when the period is over:
        (leaf index, checkpoint number)."""
        index = self.approval(report)
        return index, self.checkpoint(end_of(period[1]))

    def next_serial(self, token_id: int) -> int:
        serial: int = self.token.functions.nextSerial(token_id).call()
        return serial

    def balance(self, account: LocalAccount | str, token_id: int) -> int:
        address = account if isinstance(account, str) else account.address
        units: int = self.token.functions.balanceOf(address, token_id).call()
        return units

    def supply(self, token_id: int) -> int:
        units: int = self.token.functions.totalSupply(token_id).call()
        return units

    def timestamp(self, receipt: TxReceipt) -> int:
        return int(self.w3.eth.get_block(receipt["blockNumber"])["timestamp"])


def events(contract: Contract, receipt: TxReceipt, name: str) -> list[dict[str, Any]]:
    """The args of every ``name`` event of ``contract`` in the receipt (other logs skipped)."""
    event = getattr(contract.events, name)()
    return [dict(e["args"]) for e in event.process_receipt(receipt, errors=DISCARD)]


@pytest.fixture(scope="module")
def anvil() -> Iterator[AnvilNode]:
    with run_anvil() as node:
        yield node


@pytest.fixture
def credits(anvil: AnvilNode) -> Credits:
    w3 = anvil.web3()
    issuer = anvil.funded_account()
    registry = deploy_registry(w3, issuer)
    token = deploy_carbon_credit(w3, issuer, registry, URI)
    return Credits(
        anvil,
        w3,
        issuer,
        w3.eth.contract(address=registry, abi=REGISTRY_ABI),
        carbon_credit(w3, token),
    )


@pytest.fixture
def owner(anvil: AnvilNode) -> LocalAccount:
    """The project owner the credits are issued to."""
    return anvil.funded_account()


def interface_id(*signatures: str) -> bytes:
    """ERC-165: the XOR of the interface's function selectors."""
    value = 0
    for signature in signatures:
        value ^= int.from_bytes(Web3.keccak(text=signature)[:4], "big")
    return value.to_bytes(4, "big")


# --- deployment, token ids, days ----------------------------------------------------------------


def test_deployment_roles_and_interfaces(credits: Credits) -> None:
    t, issuer = credits.token.functions, credits.issuer.address
    # The artifact's runtime code, but for the immutable `registry` the constructor fills in.
    code = bytes(credits.w3.eth.get_code(credits.token.address))
    registry_word = bytes(12) + bytes.fromhex(credits.registry.address[2:])
    assert registry_word in code
    assert code.replace(registry_word, bytes(32)) == bytes.fromhex(
        CARBON_CREDIT.deployed_bytecode[2:]
    )
    assert t.registry().call() == credits.registry.address
    assert t.ISSUER_ROLE().call() == ISSUER_ROLE == Web3.keccak(text="ISSUER_ROLE")
    assert t.hasRole(ADMIN_ROLE, issuer).call() and t.hasRole(ISSUER_ROLE, issuer).call()
    assert t.getRoleAdmin(ISSUER_ROLE).call() == ADMIN_ROLE
    assert t.uri(token_id_of(PROJECT, 2025)).call() == URI
    erc1155 = interface_id(
        "balanceOf(address,uint256)",
        "balanceOfBatch(address[],uint256[])",
        "setApprovalForAll(address,bool)",
        "isApprovedForAll(address,address)",
        "safeTransferFrom(address,address,uint256,uint256,bytes)",
        "safeBatchTransferFrom(address,address,uint256[],uint256[],bytes)",
    )
    access_control = interface_id(
        "hasRole(bytes32,address)",
        "getRoleAdmin(bytes32)",
        "grantRole(bytes32,address)",
        "revokeRole(bytes32,address)",
        "renounceRole(bytes32,address)",
    )
    for supported in [
        interface_id("supportsInterface(bytes4)"),
        erc1155,
        interface_id("uri(uint256)"),
        access_control,
    ]:
        assert t.supportsInterface(supported).call() is True
    assert t.supportsInterface(b"\xff\xff\xff\xff").call() is False
    assert (t.issuanceCount().call(), t.retirementCount().call()) == (0, 0)
    assert t.nextSerial(token_id_of(PROJECT, 2025)).call() == 1
    assert t.lastCreditedDay(PROJECT).call() == [False, 0]


def test_token_ids_and_day_numbers(credits: Credits) -> None:
    pairs = [(0, 0), (0, 2025), (1, 2025), (PROJECT, 2025), (PROJECT, 2026), (UINT64_MAX, 0)]
    pairs.append((UINT64_MAX, UINT16_MAX))
    ids = [token_id_of(p, v) for p, v in pairs]
    assert len(set(ids)) == len(pairs)  # one token id per project and vintage
    for (project_id, vintage), token_id in zip(pairs, ids, strict=True):
        assert credits.token.functions.tokenIdOf(project_id, vintage).call() == token_id
        assert (token_id >> 16, token_id & UINT16_MAX) == (project_id, vintage)
    for bad in [(-1, 2025), (UINT64_MAX + 1, 2025), (PROJECT, -1), (PROJECT, UINT16_MAX + 1)]:
        with pytest.raises(ValueError):
            token_id_of(*bad)

    for d in [date(1970, 1, 1), date(2000, 2, 29), date(2024, 12, 31), date(2025, 1, 1)]:
        midnight = datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()
        assert day_number(d) == midnight // 86_400
        assert day_of(day_number(d)) == d
    assert day_number(date(2025, 3, 1)) - day_number(date(2025, 2, 28)) == 1


def test_constructor_call_deploys_the_same_contract(credits: Credits) -> None:
    receipt = send_transaction(
        credits.w3, credits.issuer, constructor_call(credits.w3, credits.registry.address)
    )
    assert receipt["status"] == 1 and receipt["contractAddress"]
    token = carbon_credit(credits.w3, receipt["contractAddress"])
    assert token.functions.registry().call() == credits.registry.address
    assert token.functions.uri(0).call() == ""


# --- issuance -----------------------------------------------------------------------------------


def test_issue_mints_records_and_emits(credits: Credits, owner: LocalAccount) -> None:
    index, cp = credits.anchored(Q1)
    request = credits.request(index, cp, Q1, amount=1_250, to=owner.address)
    token_id = token_id_of(PROJECT, 2025)
    assert request.token_id == token_id
    assert credits.issue_call(request).call({"from": credits.issuer.address}) == 0
    receipt = credits.issue(request)
    t = credits.token.functions

    assert credits.balance(owner, token_id) == 1_250
    assert credits.balance(credits.issuer, token_id) == 0
    assert credits.supply(token_id) == t.totalIssued(token_id).call() == 1_250
    assert t.nextSerial(token_id).call() == 1 + 1_250
    assert t.issuanceCount().call() == 1
    assert t.lastCreditedDay(PROJECT).call() == [True, day_number(Q1[1])]
    assert t.lastCreditedDay(PROJECT + 1).call() == [False, 0]
    assert tuple(t.getIssuance(0).call()) == (
        PROJECT,
        2025,
        owner.address,
        1_250,
        1,
        1_250,
        day_number(Q1[0]),
        day_number(Q1[1]),
        cp,
        request.report_hash,
        request.approval_leaf_hash,
        credits.timestamp(receipt),
    )
    (issued,) = events(credits.token, receipt, "CreditIssued")
    assert issued == {
        "issuanceId": 0,
        "tokenId": token_id,
        "projectId": PROJECT,
        "vintage": 2025,
        "to": owner.address,
        "amount": 1_250,
        "serialFirst": 1,
        "serialLast": 1_250,
        "periodFirstDay": day_number(Q1[0]),
        "periodLastDay": day_number(Q1[1]),
        "checkpoint": cp,
        "reportHash": request.report_hash,
        "approvalLeafHash": request.approval_leaf_hash,
    }
    (minted,) = events(credits.token, receipt, "TransferSingle")
    assert minted == {
        "operator": credits.issuer.address,
        "from": ZERO,
        "to": owner.address,
        "id": token_id,
        "value": 1_250,
    }
    with pytest.raises(ContractCustomError) as e:
        t.getIssuance(1).call()
    assert custom_error(e, CARBON_CREDIT.abi) == ("IssuanceNotFound", 1, 1)


def test_serials_are_contiguous_per_token_id(
    anvil: AnvilNode, credits: Credits, owner: LocalAccount
) -> None:
    t = credits.token.functions
    q1_index, q1_cp = credits.anchored(Q1, report="Q1")
    q2_index, q2_cp = credits.anchored(Q2, report="Q2")
    credits.issue(credits.request(q1_index, q1_cp, Q1, amount=120, to=owner.address))
    second = credits.request(q2_index, q2_cp, Q2, amount=80, to=owner.address)
    assert second.serial_first == 121
    credits.issue(second)
    token_2025 = token_id_of(PROJECT, 2025)
    assert [tuple(t.getIssuance(i).call()[4:6]) for i in range(2)] == [(1, 120), (121, 200)]
    assert t.nextSerial(token_2025).call() == 201
    assert credits.balance(owner, token_2025) == credits.supply(token_2025) == 200

    # Another vintage of the same project is another token id, numbered from 1.
    y2026 = (date(2026, 1, 1), date(2026, 3, 31))
    index, cp = credits.anchored(y2026, report="2026 Q1")
    receipt = credits.issue(credits.request(index, cp, y2026, amount=50, to=owner.address))
    token_2026 = token_id_of(PROJECT, 2026)
    assert token_2026 != token_2025
    (issued,) = events(credits.token, receipt, "CreditIssued")
    assert (issued["tokenId"], issued["serialFirst"], issued["serialLast"]) == (token_2026, 1, 50)
    assert (credits.balance(owner, token_2026), credits.supply(token_2026)) == (50, 50)
    assert credits.balance(owner, token_2025) == 200

    # Another project's periods and serials are its own: it may credit the same months.
    other = anvil.funded_account()
    index, cp = credits.anchored(Q1, report="project 7 Q1")
    credits.issue(credits.request(index, cp, Q1, amount=7, to=other.address, project_id=7))
    assert credits.balance(other, token_id_of(7, 2025)) == 7
    assert t.nextSerial(token_id_of(7, 2025)).call() == 8
    assert t.lastCreditedDay(7).call() == [True, day_number(Q1[1])]
    assert t.lastCreditedDay(PROJECT).call() == [True, day_number(y2026[1])]
    assert t.issuanceCount().call() == 4


# --- transfers ----------------------------------------------------------------------------------


def test_transfers_are_plain_erc1155(
    anvil: AnvilNode, credits: Credits, owner: LocalAccount
) -> None:
    t = credits.token.functions
    buyer = anvil.funded_account()
    y2026 = (date(2026, 1, 1), date(2026, 3, 31))
    for period in (Q1, y2026):
        index, cp = credits.anchored(period, report=str(period))
        credits.issue(credits.request(index, cp, period, amount=100, to=owner.address))
    a, b = token_id_of(PROJECT, 2025), token_id_of(PROJECT, 2026)

    receipt = credits.ok(owner, t.safeTransferFrom(owner.address, buyer.address, a, 30, b""))
    (moved,) = events(credits.token, receipt, "TransferSingle")
    assert (moved["from"], moved["to"], moved["id"], moved["value"]) == (
        owner.address,
        buyer.address,
        a,
        30,
    )
    assert (credits.balance(owner, a), credits.balance(buyer, a)) == (70, 30)

    call = t.safeBatchTransferFrom(owner.address, buyer.address, [a, b], [5, 60], b"")
    receipt = credits.ok(owner, call)
    (batch,) = events(credits.token, receipt, "TransferBatch")
    assert (batch["ids"], batch["values"]) == ([a, b], [5, 60])
    balances = t.balanceOfBatch([owner.address, buyer.address] * 2, [a, a, b, b]).call()
    assert balances == [65, 35, 40, 60]
    assert (credits.supply(a), credits.supply(b)) == (100, 100)  # transfers mint nothing

    # Not the holder's units without its approval, and not more than held.
    call = t.safeTransferFrom(owner.address, buyer.address, a, 1, b"")
    assert credits.refused(call, buyer) == (
        "ERC1155MissingApprovalForAll",
        buyer.address,
        owner.address,
    )
    call = t.safeTransferFrom(buyer.address, owner.address, a, 36, b"")
    assert credits.refused(call, buyer) == ("ERC1155InsufficientBalance", buyer.address, 35, 36, a)


# --- retirement ---------------------------------------------------------------------------------


def test_retirement_takes_the_lowest_serials_not_retired(
    anvil: AnvilNode, credits: Credits, owner: LocalAccount
) -> None:
    t = credits.token.functions
    buyer = anvil.funded_account()
    token_id = token_id_of(PROJECT, 2025)
    index, cp = credits.anchored(Q1, report="Q1")
    credits.issue(credits.request(index, cp, Q1, amount=100, to=owner.address))  # serials 1..100
    credits.ok(owner, t.safeTransferFrom(owner.address, buyer.address, token_id, 40, b""))

    def retire(account: LocalAccount, amount: int, beneficiary: str) -> tuple[int, int, int]:
        call = t.retire(token_id, amount, beneficiary, "FY2025 scope 2 offset", "FY2025")
        receipt = credits.ok(account, call)
        (retired,) = events(credits.token, receipt, "CreditRetired")
        assert (retired["account"], retired["id"], retired["amount"]) == (
            account.address,
            token_id,
            amount,
        )
        assert (retired["beneficiary"], retired["purpose"], retired["period"]) == (
            beneficiary,
            "FY2025 scope 2 offset",
            "FY2025",
        )
        (burnt,) = events(credits.token, receipt, "TransferSingle")
        assert (burnt["from"], burnt["to"], burnt["value"]) == (account.address, ZERO, amount)
        record = t.getRetirement(retired["retirementId"]).call()
        assert tuple(record) == (
            account.address,
            token_id,
            amount,
            retired["serialFirst"],
            retired["serialLast"],
            beneficiary,
            "FY2025 scope 2 offset",
            "FY2025",
            credits.timestamp(receipt),
        )
        return retired["retirementId"], retired["serialFirst"], retired["serialLast"]

    # FIFO over the token id, whoever holds the units.
    assert retire(owner, 30, "Owner K.K.") == (0, 1, 30)
    assert retire(buyer, 25, "Buyer Inc.") == (1, 31, 55)
    assert retire(owner, 10, "Owner K.K.") == (2, 56, 65)
    assert (credits.balance(owner, token_id), credits.balance(buyer, token_id)) == (20, 15)
    assert credits.supply(token_id) == 100 - 65
    assert t.totalRetired(token_id).call() == 65
    assert t.totalIssued(token_id).call() == 100
    assert t.retiredBalanceOf(owner.address, token_id).call() == 40
    assert t.retiredBalanceOf(buyer.address, token_id).call() == 25

    # A second issuance block: a retirement can span both blocks.
    index, cp = credits.anchored(Q2, report="Q2")
    credits.issue(credits.request(index, cp, Q2, amount=50, to=owner.address))  # 101..150
    assert retire(owner, 60, "Owner K.K.") == (3, 66, 125)
    assert credits.supply(token_id) == 150 - 125 == credits.balance(owner, token_id) + 15
    assert t.retirementCount().call() == 4
    with pytest.raises(ContractCustomError) as e:
        t.getRetirement(4).call()
    assert custom_error(e, CARBON_CREDIT.abi) == ("RetirementNotFound", 4, 4)

    # Refusals: more than held, nothing, no beneficiary; none of them retires anything.
    call = t.retire(token_id, 11, "Owner K.K.", "", "")
    assert credits.refused(call, owner) == (
        "ERC1155InsufficientBalance",
        owner.address,
        10,
        11,
        token_id,
    )
    assert send(credits.w3, owner, call, gas=500_000)["status"] == 0
    assert credits.refused(t.retire(token_id, 0, "Owner K.K.", "", ""), owner) == ("ZeroAmount",)
    assert credits.refused(t.retire(token_id, 1, "", "p", "FY2025"), owner) == (
        "BeneficiaryRequired",
    )
    assert t.totalRetired(token_id).call() == 125
    assert credits.balance(owner, token_id) == 10


# --- refusals -----------------------------------------------------------------------------------


def test_only_issuers_issue(anvil: AnvilNode, credits: Credits, owner: LocalAccount) -> None:
    t = credits.token.functions
    index, cp = credits.anchored(Q1)
    call = credits.issue_call(credits.request(index, cp, Q1, to=owner.address))
    assert credits.refused(call, owner) == (
        "AccessControlUnauthorizedAccount",
        owner.address,
        ISSUER_ROLE,
    )
    # Mined, not only simulated: the transaction reverts and nothing is issued.
    assert send(credits.w3, owner, call, gas=1_000_000)["status"] == 0
    assert t.issuanceCount().call() == 0
    assert credits.balance(owner, token_id_of(PROJECT, 2025)) == 0

    # The admin grants the role to another account, which then issues.
    other = anvil.funded_account()
    credits.ok(credits.issuer, t.grantRole(ISSUER_ROLE, other.address))
    credits.ok(other, call)
    assert credits.balance(owner, token_id_of(PROJECT, 2025)) == 100


def test_period_must_be_anchored_by_a_checkpoint_closing_after_it(
    credits: Credits, owner: LocalAccount
) -> None:
    period_end = end_of(Q1[1])
    index = credits.approval("Q1")
    early = credits.checkpoint(period_end - 1)  # closes one second before Mar 31 is over
    count = credits.registry.functions.checkpointCount().call()
    request = credits.request(index, early, Q1, to=owner.address)

    missing = replace(request, checkpoint=count)
    assert credits.refused(credits.issue_call(missing)) == (
        "PeriodNotAnchored",
        count,
        0,
        period_end,
    )
    far = replace(request, checkpoint=2**256 - 1)
    assert credits.refused(credits.issue_call(far)) == (
        "PeriodNotAnchored",
        2**256 - 1,
        0,
        period_end,
    )
    assert credits.refused(credits.issue_call(request)) == (
        "PeriodNotAnchored",
        early,
        period_end - 1,
        period_end,
    )
    # The same period ending a day earlier is over before the checkpoint closes.
    shorter = replace(request, period_last_day=Q1[1] - timedelta(days=1))
    assert credits.issue_call(shorter).call({"from": credits.issuer.address}) == 0

    credits.append(b"a later reading")  # (each checkpoint anchors a larger tree)
    on_time = credits.checkpoint(period_end)  # closes exactly when the period is over
    credits.issue(credits.request(index, on_time, Q1, to=owner.address))
    assert credits.token.functions.getIssuance(0).call()[8] == on_time


def test_approval_must_be_a_leaf_of_the_anchored_tree(
    credits: Credits, owner: LocalAccount
) -> None:
    for n in range(6):  # so that the approval's proof has several nodes
        credits.append(f"reading {n}".encode())
    index, cp = credits.anchored(Q1)
    good = credits.request(index, cp, Q1, to=owner.address)
    assert len(good.approval_proof) == 3

    def refused(request: IssueRequest) -> tuple[Any, ...]:
        return credits.refused(credits.issue_call(request))

    # A leaf that is not in the log, with the real leaf's index and proof.
    stranger = merkle.leaf_hash(b'{"kind":"verification","verdict":"approved","forged":true}')
    assert refused(replace(good, approval_leaf_hash=stranger)) == (
        "ApprovalNotAnchored",
        cp,
        stranger,
    )
    # The real leaf with a proof that does not verify: a node altered, missing, or the index
    # of its neighbour.
    proof = list(good.approval_proof)
    altered = bytes([proof[0][0] ^ 1]) + proof[0][1:]
    for bad in [
        replace(good, approval_proof=(altered, *proof[1:])),
        replace(good, approval_proof=tuple(proof[1:])),
        replace(good, approval_proof=tuple(proof[:-1])),
        replace(good, approval_proof=()),
        replace(good, approval_leaf_index=index - 1),
        replace(good, approval_leaf_index=index + credits.sizes[cp]),
    ]:
        assert refused(bad) == ("ApprovalNotAnchored", cp, good.approval_leaf_hash)

    # An approval appended after the checkpoint is in the log but not yet anchored: its proof
    # in the larger tree does not match the checkpoint's root.
    later = credits.approval("Q1, amended")
    larger = credits.checkpoint(end_of(Q1[1]))
    not_yet = replace(credits.request(later, larger, Q1, to=owner.address), checkpoint=cp)
    assert refused(not_yet) == ("ApprovalNotAnchored", cp, credits.leaves[later])
    assert (
        credits.issue_call(replace(not_yet, checkpoint=larger)).call(
            {"from": credits.issuer.address}
        )
        == 0
    )
    assert credits.issue_call(good).call({"from": credits.issuer.address}) == 0


def test_no_double_issuance(credits: Credits, owner: LocalAccount) -> None:
    t = credits.token.functions
    index, cp = credits.anchored(Q2)  # a checkpoint closing after Q1 and Q2
    first = credits.request(index, cp, Q1, amount=100, to=owner.address)
    credits.issue(first)

    # The same approval again (a client retrying, or another period): refused.
    assert credits.refused(credits.issue_call(first)) == (
        "ApprovalAlreadyUsed",
        first.approval_leaf_hash,
        0,
    )
    again = credits.request(index, cp, Q2, to=owner.address)
    assert credits.refused(credits.issue_call(again)) == (
        "ApprovalAlreadyUsed",
        first.approval_leaf_hash,
        0,
    )

    # A new approval for a period that overlaps the credited one, or lies before it (in this
    # vintage or an earlier one): refused.
    fresh, cp2 = credits.anchored(Q2, report="Q2")
    last_credited = day_number(Q1[1])
    for period in [
        (Q1[1], Q2[1]),  # starts on the last credited day
        (date(2025, 2, 1), Q2[1]),
        (date(2025, 1, 1), date(2025, 1, 31)),
        (date(2024, 10, 1), date(2024, 12, 31)),
    ]:
        request = credits.request(fresh, cp2, period, to=owner.address)
        assert credits.refused(credits.issue_call(request)) == (
            "PeriodAlreadyCredited",
            PROJECT,
            day_number(period[0]),
            last_credited,
        )
    assert t.issuanceCount().call() == 1
    # The day after the last credited one is fine.
    credits.issue(credits.request(fresh, cp2, Q2, to=owner.address))
    assert t.lastCreditedDay(PROJECT).call() == [True, day_number(Q2[1])]
    assert credits.balance(owner, token_id_of(PROJECT, 2025)) == 200


def test_serials_must_continue_the_token_id(credits: Credits, owner: LocalAccount) -> None:
    token_id = token_id_of(PROJECT, 2025)
    index, cp = credits.anchored(Q2)

    def refused(serial_first: int, period: tuple[date, date] = Q1) -> tuple[Any, ...]:
        request = credits.request(index, cp, period, to=owner.address, serial_first=serial_first)
        return credits.refused(credits.issue_call(request))

    assert refused(0) == ("SerialsOverlap", token_id, 0, 1)
    assert refused(2) == ("SerialsNotContiguous", token_id, 2, 1)
    credits.issue(credits.request(index, cp, Q1, amount=100, to=owner.address, serial_first=1))

    index, cp = credits.anchored(Q2, report="Q2")
    for serial_first in [1, 50, 100]:
        assert refused(serial_first, Q2) == ("SerialsOverlap", token_id, serial_first, 101)
    for serial_first in [102, 2**256 - 1]:
        assert refused(serial_first, Q2) == ("SerialsNotContiguous", token_id, serial_first, 101)
    credits.issue(credits.request(index, cp, Q2, amount=1, to=owner.address, serial_first=101))
    assert credits.next_serial(token_id) == 102


def test_period_and_vintage(credits: Credits, owner: LocalAccount) -> None:
    index = credits.approval("any")
    # Closes in year 9999, so every period below is over by then.
    cp = credits.checkpoint(end_of(date(9999, 12, 31)))
    base = credits.request(index, cp, Q1, to=owner.address)

    def check(vintage: int, first: date, last: date) -> tuple[Any, ...] | int:
        request = replace(base, vintage=vintage, period_first_day=first, period_last_day=last)
        request = replace(request, serial_first=1)
        try:
            issuance: int = credits.issue_call(request).call({"from": credits.issuer.address})
        except ContractCustomError as e:
            decoded = decode_custom_error(str(e.data))
            assert decoded is not None
            return (decoded[0], *decoded[1].values())
        return issuance

    day = day_number
    assert check(2025, Q1[1], Q1[0]) == ("PeriodInvalid", day(Q1[1]), day(Q1[0]))
    assert check(2025, Q1[0], Q1[0]) == 0  # one day
    for year in [1970, 1999, 2000, 2023, 2024, 2025, 2100, 2400, 9998]:
        jan1, dec31 = date(year, 1, 1), date(year, 12, 31)
        assert check(year, jan1, dec31) == 0, year
        before, after = jan1 - timedelta(days=1), dec31 + timedelta(days=1)
        for first, last in [(before, dec31), (jan1, after), (before, before), (after, after)]:
            if first < date(1970, 1, 1):
                continue  # no day number: uint32 days start on 1970-01-01
            assert check(year, first, last) == ("VintageMismatch", year, day(first), day(last))
    # Day 0 is 1970-01-01: in vintage 1970, not 1969 nor vintage 0.
    epoch = date(1970, 1, 1)
    assert check(1969, epoch, epoch) == ("VintageMismatch", 1969, 0, 0)
    assert check(0, epoch, epoch) == ("VintageMismatch", 0, 0, 0)
    # A leap year's 366th day.
    assert check(2024, date(2024, 12, 31), date(2024, 12, 31)) == 0
    assert day(date(2025, 1, 1)) - day(date(2024, 1, 1)) == 366


def test_zero_amount_and_zero_receiver(credits: Credits, owner: LocalAccount) -> None:
    index, cp = credits.anchored(Q1)
    request = credits.request(index, cp, Q1, to=owner.address)
    assert credits.refused(credits.issue_call(replace(request, amount=0))) == ("ZeroAmount",)
    nobody = replace(request, to=Web3.to_checksum_address(ZERO))
    assert credits.refused(credits.issue_call(nobody)) == ("ERC1155InvalidReceiver", ZERO)


def test_refusals_become_api_errors(credits: Credits, owner: LocalAccount) -> None:
    """The service decodes CarbonCredit's custom errors and answers with the field at fault and
    the figures: hashes as hex, days as dates."""
    index, cp = credits.anchored(Q1)
    first = credits.request(index, cp, Q1, to=owner.address)
    credits.issue(first)

    def api_error(request: IssueRequest) -> tuple[int, str, str, str]:
        with pytest.raises(ContractCustomError) as e:
            credits.issue_call(request).call({"from": credits.issuer.address})
        decoded = decode_custom_error(str(e.value.data))
        assert decoded is not None
        error = refusal(*decoded)
        (detail,) = error.details
        assert detail["reason"] == error.message
        return error.status_code, error.code, detail["field"], error.message

    status, code, field_, message = api_error(first)
    assert (status, code, field_) == (409, "approval_already_used", "approval")
    assert f"0x{first.approval_leaf_hash.hex()}" in message and "issuance 0" in message

    fresh, cp2 = credits.anchored(Q2, report="Q2")
    overlap = credits.request(fresh, cp2, (date(2025, 3, 1), Q2[1]), to=owner.address)
    status, code, field_, message = api_error(overlap)
    assert (status, code, field_) == (409, "period_already_credited", "period")
    assert "2025-03-31" in message and "2025-03-01" in message and str(PROJECT) in message

    wrong_year = replace(credits.request(fresh, cp2, Q2, to=owner.address), vintage=2024)
    status, code, field_, message = api_error(wrong_year)
    assert (status, code, field_) == (422, "vintage_mismatch", "vintage")
    assert "2025-04-01" in message and "2025-06-30" in message and "2024" in message

    gap = credits.request(fresh, cp2, Q2, to=owner.address, serial_first=150)
    status, code, field_, message = api_error(gap)
    assert (status, code, field_) == (409, "serials_not_contiguous", "serial_first")
    assert "150" in message and "101" in message


# --- the vendored ERC1155 -------------------------------------------------------------------------


def test_vendored_erc1155_is_openzeppelins_but_for_arrays() -> None:
    """contracts/ERC1155Berlin.sol is the pinned OpenZeppelin ERC1155.sol with the changes its
    header lists and no other: rebuilt here from the package in node_modules."""
    contracts = REPO / "contracts"
    package = contracts / "node_modules/@openzeppelin/contracts"
    pinned = json.loads((contracts / "package.json").read_text())["devDependencies"]
    assert (
        json.loads((package / "package.json").read_text())["version"]
        == pinned["@openzeppelin/contracts"]
    )
    upstream = (package / "token/ERC1155/ERC1155.sol").read_text()
    expected = upstream[upstream.index("pragma solidity") :]

    def absolute(match: re.Match[str]) -> str:
        path = posixpath.normpath(posixpath.join("/token/ERC1155", match.group(2)))
        return f'import {{{match.group(1)}}} from "@openzeppelin/contracts{path}";'

    expected = re.sub(r'import \{(.*)\} from "(\.[^"]*)";', absolute, expected)
    for dropped in [
        'import {Arrays} from "@openzeppelin/contracts/utils/Arrays.sol";\n',
        "    using Arrays for uint256[];\n",
        "    using Arrays for address[];\n",
    ]:
        assert dropped in expected
        expected = expected.replace(dropped, "")
    expected = re.sub(r"\.unsafeMemoryAccess\((\w+)\)", r"[\1]", expected)
    assert "unsafeMemoryAccess" not in expected and "Arrays.sol" not in expected
    vendored = (contracts / "ERC1155Berlin.sol").read_text()
    assert vendored[vendored.index("pragma solidity") :] == expected
