#!/usr/bin/env python3
"""Bond token indexer benchmark: events indexed per second for H holders and T transfers on a
real Anvil, and the time of a holder-list snapshot.

    .venv/bin/python bench/indexer.py --holders 10000 --transfers 100000
    .venv/bin/python bench/indexer.py ... --database-url \\
        'postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3Dbench_idx'

Preparation (timed apart): an Anvil of its own (`--auto-impersonate`, a large block gas limit,
automine off once the contracts are deployed) takes unsigned `eth_sendTransaction`s from the
holders' addresses in JSON-RPC batches, `--per-block` transactions a block, mined with
`evm_mine`: the holders are funded (`anvil_setBalance`) and register in PersonalInfo, the
issuer sends each of them 100 units, then T random transfers of 1 unit between holders (a
model of the balances picks senders that have units). Then the service's indexer
(`index_token`, confirmation depth 0, `--block-range` blocks a range) indexes the token from its
deployment to the head into a fresh database (`--database-url`: an empty schema; default a new
SQLite file), timed, with the time spent in chain reads and in the database apart; every
holder's indexed position is checked against `holdingOf` at the head; and holder snapshots
(`holders_at_block`) at the head and at the middle block are timed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from eth_account import Account
from sqlalchemy.orm import Session, sessionmaker
from web3 import HTTPProvider, Web3
from web3.types import RPCEndpoint

from app.bonds.contracts import (
    BondTerms,
    deploy_green_bond_token,
    deploy_personal_info,
    green_bond_token,
    personal_info,
)
from app.bonds.indexer import IndexerPolicy, index_token
from app.bonds.models import BondToken
from app.bonds.positions import holders_at_block
from app.bonds.token_chain import Header, Holding, RawLog, TokenChain
from app.core.db import create_db_engine, session_factory, utcnow
from app.core.migrate import upgrade_to_head
from app.ledger.anvil import DEV_PRIVATE_KEY, anvil_args, start_anvil, stop_anvil
from app.ledger.contract import deploy_registry
from app.registry.models import Bond

ANVIL_PORT = 18549  # apart from make run (8545) and the other benchmarks (18546, 18548)
UNITS_EACH = 100
T = TypeVar("T")
TERMS = BondTerms(
    name="Bench Green Bond",
    symbol="BGB",
    face_value=1_000_000,
    currency="JPY",
    interest_rate=12_500,
    interest_payment_dates=(date(2027, 3, 31),),
    redemption_date=date(2030, 3, 31),
    redemption_value=1_000_000,
    purpose="benchmark",
)


class TimedChain(TokenChain):
    """The indexer's chain reads, with the time spent in each kind."""

    def __init__(self, w3: Web3) -> None:
        super().__init__(w3)
        self.seconds: dict[str, float] = {}

    def _timed(self, name: str, read: Callable[[], T]) -> T:
        start = time.perf_counter()
        try:
            return read()
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def head(self) -> int:
        return self._timed("head", super().head)

    def headers(self, numbers: Any) -> dict[int, Header]:
        return self._timed("headers", lambda: super(TimedChain, self).headers(numbers))

    def logs(self, address: Any, topics: Any, first: int, last: int) -> list[RawLog]:
        return self._timed(
            "logs", lambda: super(TimedChain, self).logs(address, topics, first, last)
        )

    def holdings(self, token: Any, reads: Sequence[Any]) -> list[Holding]:
        return self._timed("holdings", lambda: super(TimedChain, self).holdings(token, reads))


def rpc_batch(w3: Web3, method: str, params: Sequence[list[Any]], size: int = 500) -> list[Any]:
    out: list[Any] = []
    for start in range(0, len(params), size):
        answers = w3.provider.make_batch_request(  # type: ignore[attr-defined]  # HTTPProvider
            [(RPCEndpoint(method), p) for p in params[start : start + size]]
        )
        for answer in answers:
            if "error" in answer:
                raise RuntimeError(f"{method}: {answer['error']}")
            out.append(answer["result"])
    return out


def send_in_blocks(w3: Web3, txs: Sequence[dict[str, Any]], per_block: int) -> int:
    """Sends the (unsigned, impersonated) transactions, ``per_block`` to a mined block, each
    with its sender's next nonce (the node would give two of a batch the same one); returns the
    blocks mined."""
    nonces: dict[str, int] = {}
    for tx in txs:
        sender = tx["from"]
        if sender not in nonces:
            nonces[sender] = w3.eth.get_transaction_count(sender, "pending")
        tx["nonce"] = hex(nonces[sender])
        nonces[sender] += 1
    blocks = 0
    for start in range(0, len(txs), per_block):
        rpc_batch(w3, "eth_sendTransaction", [[tx] for tx in txs[start : start + per_block]])
        w3.provider.make_request(RPCEndpoint("evm_mine"), [])
        blocks += 1
    return blocks


def prepare(w3: Web3, holders: int, transfers: int, per_block: int, seed: int) -> dict[str, Any]:
    issuer = Account.from_key(DEV_PRIVATE_KEY)
    registry = deploy_registry(w3, issuer)
    info = personal_info(w3, deploy_personal_info(w3, issuer))
    token = green_bond_token(
        w3,
        deploy_green_bond_token(
            w3,
            issuer,
            TERMS,
            initial_supply=holders * UNITS_EACH,
            personal_info=info.address,
            impact_registry=registry,
            bond_id=1,
        ),
    )
    deployed = w3.eth.block_number
    w3.provider.make_request(RPCEndpoint("evm_setAutomine"), [False])
    gas = {"gasPrice": hex(10**9)}
    accounts = [
        Web3.to_checksum_address(Web3.keccak(text=f"bench holder {i}")[-20:])
        for i in range(holders)
    ]
    timings: dict[str, float] = {}

    start = time.perf_counter()
    rpc_batch(w3, "anvil_setBalance", [[a, hex(10**21)] for a in accounts])
    register = info.encode_abi("register", [issuer.address, "ciphertext"])
    send_in_blocks(
        w3,
        [
            {"from": a, "to": info.address, "data": register, "gas": hex(200_000)} | gas
            for a in accounts
        ],
        per_block,
    )
    transferable = token.encode_abi("setTransferable", [True])
    send_in_blocks(
        w3, [{"from": issuer.address, "to": token.address, "data": transferable} | gas], 1
    )
    send_in_blocks(
        w3,
        [
            {
                "from": issuer.address,
                "to": token.address,
                "data": token.encode_abi("transfer", [a, UNITS_EACH]),
                "gas": hex(100_000),
            }
            | gas
            for a in accounts
        ],
        per_block,
    )
    timings["holders_s"] = time.perf_counter() - start

    start = time.perf_counter()
    rng = random.Random(seed)
    balance = dict.fromkeys(accounts, UNITS_EACH)
    txs = []
    for _ in range(transfers):
        sender = rng.choice(accounts)
        while balance[sender] == 0:
            sender = rng.choice(accounts)
        recipient = rng.choice(accounts)
        balance[sender] -= 1
        balance[recipient] += 1
        data = token.encode_abi("transfer", [recipient, 1])
        txs.append({"from": sender, "to": token.address, "data": data, "gas": hex(100_000)} | gas)
    transfer_blocks = send_in_blocks(w3, txs, per_block)
    timings["transfers_s"] = time.perf_counter() - start
    return {
        "token": token,
        "info": info,
        "registry": registry,
        "issuer": issuer.address,
        "deployed": deployed,
        "accounts": accounts,
        "balance": balance,
        "transfer_blocks": transfer_blocks,
        "timings": timings,
    }


def token_row(sf: sessionmaker[Session], chain_id: int, prepared: dict[str, Any]) -> BondToken:
    with sf() as session:
        bond = Bond(
            code="BENCH-IDX",
            name="Bench bond",
            issuer="Issuer",
            currency="JPY",
            amount_issued=Decimal(10**9),
            issue_date=date(2026, 1, 1),
            maturity_date=date(2030, 3, 31),
            created_at=utcnow(),
        )
        session.add(bond)
        session.flush()
        token = BondToken(
            bond_id=bond.id,
            chain_id=chain_id,
            contract_address=prepared["token"].address,
            personal_info_address=prepared["info"].address,
            impact_registry_address=prepared["registry"],
            issuer_address=prepared["issuer"],
            deploy_tx_hash="0x" + "00" * 32,
            deployed_block=prepared["deployed"],
            created_at=utcnow(),
        )
        session.add(token)
        session.commit()
        return token


def timed_snapshot(
    sf: sessionmaker[Session], token: BondToken, block: int, runs: int
) -> dict[str, Any]:
    seconds = []
    for _ in range(runs):
        with sf() as session:
            start = time.perf_counter()
            snapshot = holders_at_block(session, token, block)
            seconds.append(time.perf_counter() - start)
    return {
        "block": block,
        "holders": len(snapshot.holders),
        "total_units": snapshot.total_units,
        "first_s": round(seconds[0], 3),
        "best_s": round(min(seconds), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--holders", type=int, default=10_000)
    parser.add_argument("--transfers", type=int, default=100_000)
    parser.add_argument("--per-block", type=int, default=500, help="transactions per block")
    parser.add_argument("--block-range", type=int, default=20, help="indexer blocks per range")
    parser.add_argument("--database-url", help="an empty schema; default: a new SQLite file")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="gbt-bench-indexer-"))
    url = args.database_url or f"sqlite:///{workdir}/bench.sqlite3"
    engine = create_db_engine(url)
    upgrade_to_head(engine)
    sf = session_factory(engine)
    node_args = [*anvil_args(), "--auto-impersonate", "--gas-limit", "10000000000"]
    with (workdir / "anvil.log").open("wb") as anvil_log:
        process = start_anvil(ANVIL_PORT, node_args, anvil_log)
    if process is None:
        raise SystemExit(f"Anvil did not start on port {ANVIL_PORT}")
    try:
        w3 = Web3(HTTPProvider(f"http://127.0.0.1:{ANVIL_PORT}", request_kwargs={"timeout": 300}))
        start = time.perf_counter()
        prepared = prepare(w3, args.holders, args.transfers, args.per_block, args.seed)
        preparation_s = time.perf_counter() - start
        head = w3.eth.block_number
        token = token_row(sf, w3.eth.chain_id, prepared)

        chain = TimedChain(w3)
        policy = IndexerPolicy(confirmations=0, block_range=args.block_range, max_ranges=10**9)
        start = time.perf_counter()
        with sf() as session:
            report = index_token(session, chain, token, policy)
        index_s = time.perf_counter() - start
        assert report.indexed_through == head, report

        # Every holder's indexed position is the contract's at the head, and the model's.
        head_hash = w3.eth.get_block(head)["hash"].to_0x_hex()
        accounts = prepared["accounts"]
        address = Web3.to_checksum_address(token.contract_address)
        on_chain = TokenChain(w3).holdings(address, [(a, head_hash) for a in accounts])
        with sf() as session:
            snap = holders_at_block(session, token, head)
            snapshot = {
                h.account: (h.balance_units, h.locked_units, h.pending_units) for h in snap.holders
            }
        for account, holding in zip(accounts, on_chain, strict=True):
            assert snapshot.get(account, (0, 0, 0)) == holding, account
            assert holding[0] == prepared["balance"][account], account

        middle = (prepared["deployed"] + head) // 2
        chain_s = sum(chain.seconds.values())
        result = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}",
            "database": engine.dialect.name,
            "holders": args.holders,
            "transfers": args.transfers,
            "per_block": args.per_block,
            "block_range": args.block_range,
            "blocks_indexed": head - prepared["deployed"] + 1,
            "preparation_s": round(preparation_s, 1),
            "preparation": {k: round(v, 1) for k, v in prepared["timings"].items()},
            "events": report.events,
            "reads": report.reads,
            "index_s": round(index_s, 2),
            "events_per_s": round(report.events / index_s),
            "reads_per_s": round(report.reads / index_s),
            "chain_s": {k: round(v, 2) for k, v in chain.seconds.items()}
            | {"total": round(chain_s, 2)},
            "database_and_rest_s": round(index_s - chain_s, 2),
            "snapshot_head": timed_snapshot(sf, token, head, 5),
            "snapshot_middle": timed_snapshot(sf, token, middle, 5),
        }
        print(json.dumps(result, indent=2))
    finally:
        stop_anvil(process)
        engine.dispose()


if __name__ == "__main__":
    main()
