"""``gbt-verify holding``: a holder's statement (``GET /v1/investor/holdings``) against nothing
but a node of the chain. For each holding, every read pinned to the statement's block:

1. the chain id, and the token: code at the block, its ``bondId`` and ``impactRegistry``;
2. the position: ``holdingOf(account)`` gives the balance, locked and pending units, which add
   up to the holding; ``totalSupply`` the supply;
3. the checkpoint: the registry held it at the block, and it was added in the block the
   statement names; the bond's totals in it (``getCheckpoint``);
4. the share, recomputed with the service's own rule (``app.pure.holding.holder_share``), and
   in kWh and t-CO2;
5. the token's own ``holderImpactAt(account, number)`` at the block returns the same figures.

The first figure that differs fails, named (``bond 1 balance_units``), with both values.
"""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract

from app.audit.verify.checks import (
    Chain,
    CheckFailedError,
    Report,
    UnusableInputError,
    check_chain_id,
    field_of,
)
from app.pure.artifact import GREEN_BOND_TOKEN, REGISTRY_ABI
from app.pure.holding import HOLDING_STATEMENT_FORMAT, holder_share


def _address(obj: Any, key: str, where: str) -> ChecksumAddress:
    value = field_of(obj, key, str, where)
    if not Web3.is_address(value):
        raise UnusableInputError(f"{where}.{key}: not an Ethereum address")
    return Web3.to_checksum_address(value)


@dataclass(frozen=True)
class Claimed:
    """One figure of the statement, named as the statement names it."""

    bond_id: int
    name: str
    value: Any

    def check(self, actual: Any, source: str) -> None:
        if actual != self.value:
            raise CheckFailedError(
                f"bond {self.bond_id} {self.name}",
                f"the statement says {self.value}, {source} gives {actual}",
            )


def verify_holding_statement(
    statement: Any,
    chain: Chain,
    report: Report,
    *,
    expect_chain_id: int | None = None,
    expect_account: str | None = None,
) -> None:
    if not isinstance(statement, dict) or statement.get("format") != HOLDING_STATEMENT_FORMAT:
        raise UnusableInputError(f"statement: format must be {HOLDING_STATEMENT_FORMAT!r}")
    account = _address(statement, "account", "statement")
    if expect_account is not None and Web3.to_checksum_address(expect_account) != account:
        raise CheckFailedError("account", f"the statement is {account}'s, not {expect_account}'s")
    holdings = field_of(statement, "holdings", list, "statement")
    for i, holding in enumerate(holdings):
        _verify_holding(holding, f"holdings[{i}]", account, chain, report, expect_chain_id)
    report(f"statement of {account}: {len(holdings)} holding(s) match the chain")


def _verify_holding(
    holding: Any,
    where: str,
    account: str,
    chain: Chain,
    report: Report,
    expect_chain_id: int | None,
) -> None:
    bond_id = field_of(holding, "bond_id", int, where)
    block = field_of(holding, "block_number", int, where)

    def claimed(name: str, kind: type = int, obj: Any = holding, at: str = where) -> Claimed:
        return Claimed(bond_id, name, field_of(obj, name, kind, at))

    check_chain_id(chain, field_of(holding, "chain_id", int, where), expect_chain_id, "chain id")
    w3 = chain.w3
    token_address = _address(holding, "token_address", where)
    registry_address = _address(holding, "impact_registry_address", where)
    token = w3.eth.contract(address=token_address, abi=GREEN_BOND_TOKEN.abi)
    try:
        if len(w3.eth.get_code(token_address, block_identifier=block)) == 0:
            raise CheckFailedError(
                f"bond {bond_id} token_address", f"no contract at {token_address} at block {block}"
            )
        f = token.functions
        token_bond = int(f.bondId().call(block_identifier=block))
        token_registry = str(f.impactRegistry().call(block_identifier=block))
        balance, locked, pending = (
            int(x) for x in f.holdingOf(account).call(block_identifier=block)
        )
        supply = int(f.totalSupply().call(block_identifier=block))
    except CheckFailedError:
        raise
    except Exception as e:  # unreachable node, a pruned block, not a token
        raise UnusableInputError(f"cannot read token {token_address} at block {block}: {e}") from e
    at = f"at block {block}"
    Claimed(bond_id, "bond_id", bond_id).check(token_bond, f"the token's bondId() {at}")
    Claimed(bond_id, "impact_registry_address", registry_address).check(
        token_registry, f"the token's impactRegistry() {at}"
    )
    holding_of = f"holdingOf({account}) {at}"
    claimed("balance_units").check(balance, holding_of)
    claimed("locked_units").check(locked, holding_of)
    claimed("pending_units").check(pending, holding_of)
    units = balance + locked + pending
    claimed("holding_units").check(units, f"balance + locked + pending {at}")
    claimed("total_supply_units").check(supply, f"totalSupply() {at}")
    report(
        f"bond {bond_id}: {account} holds {units} of {supply} units of {token_address} at block "
        f"{block} ({balance} free, {locked} locked, {pending} pending)"
    )

    impact = holding.get("impact")
    if impact is None:
        report(f"bond {bond_id}: no impact in the statement ({holding.get('impact_unavailable')})")
        return
    number = field_of(impact, "checkpoint_number", int, f"{where}.impact")
    registry = w3.eth.contract(address=registry_address, abi=REGISTRY_ABI)
    added = field_of(impact, "checkpoint_block", int, f"{where}.impact")
    bond_wh, bond_g = _checkpoint_totals(registry, bond_id, number, block, added)
    imp = f"{where}.impact"
    source = f"checkpoint {number} of {registry_address}"
    claimed("bond_reduction_wh", obj=impact, at=imp).check(bond_wh, source)
    claimed("bond_co2_avoided_g", obj=impact, at=imp).check(bond_g, source)
    reduction_wh = holder_share(bond_wh, units, supply)
    co2_g = holder_share(bond_g, units, supply)
    rule = f"total x {units} / {supply} toward zero"
    claimed("reduction_wh", obj=impact, at=imp).check(reduction_wh, rule)
    claimed("co2_avoided_g", obj=impact, at=imp).check(co2_g, rule)
    for name, exact in (
        ("energy_reduction_kwh", Decimal(reduction_wh) / 1000),
        ("co2_avoided_t", Decimal(co2_g) / 1_000_000),
    ):
        shown = field_of(impact, name, str, imp)
        try:
            same = Decimal(shown) == exact
        except InvalidOperation:
            same = False
        if not same:
            raise CheckFailedError(
                f"bond {bond_id} {name}", f"the statement says {shown}, the share is {exact}"
            )
    report(
        f"bond {bond_id}: share of checkpoint {number} (added in block {added}): "
        f"{reduction_wh} Wh of {bond_wh}, {co2_g} g of {bond_g}"
    )
    _check_holder_impact(token, account, number, block, (units, supply, reduction_wh, co2_g))
    report(f"bond {bond_id}: the token's holderImpactAt({account}, {number}) {at} agrees")


def _checkpoint_totals(
    registry: Contract, bond_id: int, number: int, block: int, added: int
) -> tuple[int, int]:
    """The bond's totals in checkpoint ``number``, which the registry must hold at ``block``
    and have added in block ``added``."""
    what = f"bond {bond_id} checkpoint_number"
    f = registry.functions
    try:
        count = int(f.checkpointCount().call(block_identifier=block))
        before = int(f.checkpointCount().call(block_identifier=added - 1)) if added > 0 else 0
        after = int(f.checkpointCount().call(block_identifier=added)) if added <= block else 0
        totals = f.getCheckpoint(number).call(block_identifier=block)[4] if number < count else []
    except Exception as e:
        raise UnusableInputError(f"cannot read the registry at block {block}: {e}") from e
    if number >= count:
        raise CheckFailedError(
            what, f"the statement says {number}; the registry holds {count} at block {block}"
        )
    if not before <= number < after:
        raise CheckFailedError(
            f"bond {bond_id} checkpoint_block",
            f"the statement says {added}; checkpoint {number} was not added in that block (or "
            f"it is after block {block})",
        )
    by_bond = {int(b): (int(r), int(g)) for b, r, g in totals}
    return by_bond.get(bond_id, (0, 0))  # no total for the bond: zero, as the token says


def _check_holder_impact(
    token: Contract, account: str, number: int, block: int, expected: tuple[int, int, int, int]
) -> None:
    try:
        answer = token.functions.holderImpactAt(account, number).call(block_identifier=block)
    except Exception as e:
        raise UnusableInputError(f"holderImpactAt at block {block} failed: {e}") from e
    got = (int(answer[1]), int(answer[2]), int(answer[3]), int(answer[4]))
    names = ("holding", "supply", "reductionWh", "co2AvoidedG")
    for name, mine, theirs in zip(names, expected, got, strict=True):
        if mine != theirs:
            raise CheckFailedError(
                f"holderImpactAt {name}",
                f"recomputed {mine}, the token's holderImpactAt({account}, {number}) at block "
                f"{block} returns {theirs}",
            )
