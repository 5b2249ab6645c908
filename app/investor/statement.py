"""An account's holding statement: its indexed positions in each bond token and, for each, the
share of the bond's totals in the latest checkpoint confirmed by the block the positions are
indexed to (``holderImpactAt`` pinned to that block returns the same figures; `gbt-verify
holding` checks them against the chain)."""

from sqlalchemy.orm import Session

from app.bonds.holdings import IndexedToken, indexed_tokens, positions_of
from app.bonds.models import TokenPosition
from app.investor.schemas import HoldingImpact, HoldingStatement, TokenHolding, UnindexedToken
from app.investor.service import kwh, on_chain, tonnes
from app.ledger import checkpoints
from app.ledger.onchain import AnchoredCheckpoints
from app.pure.holding import holder_share
from app.registry import service as registry


def holding_statement(
    session: Session, account: str, anchored: AnchoredCheckpoints
) -> HoldingStatement:
    """Every token ``account`` holds units of (by bond), and the tokens not indexed yet."""
    positions = positions_of(session, account)
    holdings: list[TokenHolding] = []
    unindexed: list[UnindexedToken] = []
    for indexed in indexed_tokens(session):
        token = indexed.token
        if indexed.indexed_block is None:
            unindexed.append(
                UnindexedToken(bond_id=token.bond_id, token_address=token.contract_address)
            )
            continue
        position = positions.get(token.id)
        if position is not None and _units(position) > 0:
            block = indexed.indexed_block
            holdings.append(_holding(session, indexed, block, position, anchored))
    return HoldingStatement(account=account, holdings=holdings, not_indexed=unindexed)


def _units(position: TokenPosition) -> int:
    return position.balance_units + position.locked_units + position.pending_units


def _holding(
    session: Session,
    indexed: IndexedToken,
    block: int,
    position: TokenPosition,
    anchored: AnchoredCheckpoints,
) -> TokenHolding:
    token = indexed.token
    holding, supply = _units(position), indexed.total_units
    impact: HoldingImpact | None = None
    unavailable: str | None = None
    cp = checkpoints.latest_confirmed_by_block(
        session, token.chain_id, token.impact_registry_address, block
    )
    if cp is None or cp.block_number is None:
        unavailable = f"no checkpoint of {token.impact_registry_address} confirmed by block {block}"
    elif isinstance(found := on_chain(cp, anchored), str):
        unavailable = found
    else:
        totals = {b: (r, g) for b, r, g in found.totals}
        bond_wh, bond_g = totals.get(token.bond_id, (0, 0))  # no total yet: zero, as on chain
        reduction_wh = holder_share(bond_wh, holding, supply)
        co2_g = holder_share(bond_g, holding, supply)
        impact = HoldingImpact(
            checkpoint_number=found.number,
            checkpoint_block=cp.block_number,
            bond_reduction_wh=bond_wh,
            bond_co2_avoided_g=bond_g,
            reduction_wh=reduction_wh,
            co2_avoided_g=co2_g,
            energy_reduction_kwh=kwh(reduction_wh),
            co2_avoided_t=tonnes(co2_g),
        )
    bond = registry.get_bond(session, token.bond_id)
    return TokenHolding(
        bond_id=token.bond_id,
        bond_code=bond.code,
        bond_name=bond.name,
        chain_id=token.chain_id,
        token_address=token.contract_address,
        impact_registry_address=token.impact_registry_address,
        block_number=block,
        balance_units=position.balance_units,
        locked_units=position.locked_units,
        pending_units=position.pending_units,
        holding_units=holding,
        total_supply_units=supply,
        acquired_at=position.acquired_at,
        impact=impact,
        impact_unavailable=unavailable,
    )
