"""The standalone verifier (gbt-verify) on a real Anvil: bundles built by hand per
docs/audit-bundle.md over trees built in memory, checkpoints written with addCheckpoint, and the
CLI run as a separate process, as an auditor would."""

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eth_account.signers.local import LocalAccount
from web3 import Web3

from app.ledger.contract import deploy_registry
from app.pure import encoding, merkle, signing
from app.pure.artifact import REGISTRY_ABI
from app.pure.leaves import ReadingLeaf
from tests.anvil import AnvilNode, run_anvil

REPO = Path(__file__).resolve().parents[1]
METER_ID = 7
SEQUENCE = 42
START = 1_775_001_600
READINGS = [
    signing.SignedReading(START + i * 1800, START + (i + 1) * 1800, signing.ValueKind.ENERGY_WH, v)
    for i, v in enumerate((5230, 4980, 5105))
]


class Tree:
    """An RFC 9162 tree in memory, grown with merkle.append as the service does."""

    def __init__(self) -> None:
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.leaves: list[bytes] = []

    def get(self, level: int, index: int) -> bytes:
        return self.nodes[(level, index)]

    def add(self, leaf: bytes) -> int:
        for level, index, h in merkle.append(self.get, len(self.leaves), [merkle.leaf_hash(leaf)]):
            self.nodes[(level, index)] = h
        self.leaves.append(leaf)
        return len(self.leaves) - 1

    def root(self, size: int) -> bytes:
        return merkle.root(self.get, size)

    def proof(self, index: int, size: int) -> list[str]:
        return [h.hex() for h in merkle.inclusion_proof(self.get, index, size)]


def filler(i: int) -> bytes:
    return encoding.leaf(
        "emission_factor", factor_id=i, grid_region="tokyo", g_per_kwh="423", source="test"
    )


def reading_leaf(reading_id: int, reading: signing.SignedReading, batch: bytes) -> bytes:
    return ReadingLeaf(
        reading_id=reading_id,
        meter_id=METER_ID,
        start=reading.start_s,
        end=reading.end_s,
        value_field="energy_wh",
        value=reading.value,
        revision=0,
        supersedes_reading_id=None,
        batch_sequence=SEQUENCE,
        batch_sha256_hex=hashlib.sha256(batch).hexdigest(),
    ).encode()


@dataclass
class World:
    node: AnvilNode
    w3: Web3
    registry: str
    other_registry: str
    tree: Tree
    lie_tree: Tree
    batch: bytes
    signature: bytes
    key_index: int
    reading_index: int
    sizes: tuple[int, int, int]  # checkpoints 0, 1 (tree extended) and 2 (the lying tree)
    tx_hashes: tuple[str, str, str]  # the transactions that added them
    blocks: tuple[int, int, int]


def add_checkpoint(
    w3: Web3, account: LocalAccount, address: str, size: int, root: bytes
) -> tuple[str, int]:
    registry = w3.eth.contract(address=Web3.to_checksum_address(address), abi=REGISTRY_ABI)
    tx: Any = registry.functions.addCheckpoint(
        size, root, 1_775_000_000, b"\x07" * 32, []
    ).build_transaction(
        {
            "from": account.address,
            "nonce": w3.eth.get_transaction_count(account.address, "pending"),
            "gasPrice": w3.eth.gas_price,
            "chainId": w3.eth.chain_id,
        }
    )
    signed = account.sign_transaction(tx)
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(signed.raw_transaction)
    )
    assert receipt["status"] == 1
    return "0x" + bytes(receipt["transactionHash"]).hex(), int(receipt["blockNumber"])


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    key = Ed25519PrivateKey.generate()
    batch = signing.encode_batch(METER_ID, SEQUENCE, READINGS)
    signature = signing.sign(key, batch)
    key_leaf = encoding.leaf(
        "meter_key",
        asset_id=1,
        device_id="tky-lab-01-main",
        interval_s=1800,
        meter_id=METER_ID,
        public_key_hex=signing.public_key_hex(key),
        quantity="consumption",
        registered_at=1_774_915_200,
    )

    tree = Tree()
    for i in range(3):
        tree.add(filler(i))
    key_index = tree.add(key_leaf)
    reading_indices = [tree.add(reading_leaf(100 + i, r, batch)) for i, r in enumerate(READINGS)]
    for i in range(3, 6):
        tree.add(filler(i))
    size0 = len(tree.leaves)  # 10
    for i in range(6, 21):
        tree.add(filler(i))
    size1 = len(tree.leaves)  # 25

    # A log that anchored a lie: the same records, but reading 101's value changed in its leaf
    # (leaf hash and proofs consistent with it), still naming the real signed batch.
    lie_tree = Tree()
    lied = READINGS[1]._replace(value=READINGS[1].value - 2000)
    for index, leaf in enumerate(tree.leaves):
        lie_tree.add(reading_leaf(101, lied, batch) if index == reading_indices[1] else leaf)
    for i in range(21, 26):
        lie_tree.add(filler(i))
    size2 = len(lie_tree.leaves)  # 30

    with run_anvil() as node:
        w3 = node.web3()
        account = node.funded_account()
        registry = deploy_registry(w3, account)
        other_registry = deploy_registry(w3, account)
        added = [
            add_checkpoint(w3, account, registry, size0, tree.root(size0)),
            add_checkpoint(w3, account, registry, size1, tree.root(size1)),
            add_checkpoint(w3, account, registry, size2, lie_tree.root(size2)),
        ]
        yield World(
            node,
            w3,
            registry,
            other_registry,
            tree,
            lie_tree,
            batch,
            signature,
            key_index,
            reading_indices[1],
            (size0, size1, size2),
            (added[0][0], added[1][0], added[2][0]),
            (added[0][1], added[1][1], added[2][1]),
        )


def leaf_ref(tree: Tree, kind: str, ref_id: int, index: int) -> dict[str, Any]:
    leaf = tree.leaves[index]
    return {
        "kind": kind,
        "ref_id": ref_id,
        "leaf_index": index,
        "leaf_hex": leaf.hex(),
        "leaf_hash_hex": merkle.leaf_hash(leaf).hex(),
    }


def make_bundle(world: World, *, number: int = 1, lie: bool = False) -> dict[str, Any]:
    tree = world.lie_tree if lie else world.tree
    size = world.sizes[number]
    return {
        "format": "gbt-proof-bundle/1",
        "leaf": leaf_ref(tree, "reading", 101, world.reading_index),
        "checkpoint": {
            "number": number,
            "tree_size": size,
            "root_hex": tree.root(size).hex(),
            "chain_id": world.node.chain_id,
            "contract_address": world.registry,
            "tx_hash": world.tx_hashes[number],
            "block_number": world.blocks[number],
        },
        "inclusion_proof_hex": tree.proof(world.reading_index, size),
        "provenance": {
            "batch_hex": world.batch.hex(),
            "signature_hex": world.signature.hex(),
            "meter_key": {
                "leaf": leaf_ref(tree, "meter_key", METER_ID, world.key_index),
                "inclusion_proof_hex": tree.proof(world.key_index, size),
            },
        },
    }


def verify(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.audit.verify.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def verify_bundle(
    world: World, bundle: dict[str, Any], tmp_path: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    return verify("bundle", str(path), "--rpc", world.node.url, *extra)


def last_line(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout.strip().splitlines()[-1]


def test_the_cli_imports_no_service_code() -> None:
    code = "import sys, json, app.audit.verify.cli\n" "print(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    modules = json.loads(out.stdout)
    forbidden = [
        m
        for m in modules
        if m.split(".")[0] in ("sqlalchemy", "fastapi", "starlette", "alembic")
        or m == "app.core"
        or m.startswith("app.core.")
        or m in ("app.models", "app.main", "app.cli")
        or (
            m.startswith("app.")
            and m.split(".")[-1] in ("models", "service", "router", "jobs", "schemas")
        )
    ]
    assert forbidden == []
    assert "app.pure.merkle" in modules
    assert "app.pure.signing" in modules


def test_a_valid_bundle_passes_every_check(world: World, tmp_path: Path) -> None:
    result = verify_bundle(
        world,
        make_bundle(world),
        tmp_path,
        "--chain-id",
        str(world.node.chain_id),
        "--contract",
        world.registry.lower(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    size = world.sizes[1]
    assert result.stdout.splitlines() == [
        "ok   leaf hash",
        f"ok   inclusion proof (index {world.reading_index} in tree of {size})",
        f"ok   on chain: checkpoint 1 of {world.registry} on chain {world.node.chain_id} has tree "
        f"size {size} and root {world.tree.root(size).hex()}",
        f"ok   on chain: transaction {world.tx_hashes[1]} (block {world.blocks[1]}) added it",
        "ok   batch hash",
        "ok   reading is in the signed batch",
        "ok   meter key leaf included",
        f"ok   signature by meter {METER_ID}'s registered key",
    ]


def test_a_non_reading_leaf_needs_no_provenance(world: World, tmp_path: Path) -> None:
    bundle = make_bundle(world)
    bundle["leaf"] = leaf_ref(world.tree, "meter_key", METER_ID, world.key_index)
    bundle["inclusion_proof_hex"] = world.tree.proof(world.key_index, world.sizes[1])
    del bundle["provenance"]
    result = verify_bundle(world, bundle, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(result.stdout.splitlines()) == 4


def test_a_transaction_that_did_not_add_the_checkpoint_fails(world: World, tmp_path: Path) -> None:
    bundle = make_bundle(world)
    bundle["checkpoint"]["tx_hash"] = world.tx_hashes[0]  # real, but it added checkpoint 0
    result = verify_bundle(world, bundle, tmp_path)
    assert result.returncode == 1
    assert last_line(result) == (
        f"FAIL on chain: transaction {world.tx_hashes[0]}: it did not add checkpoint 1 to "
        f"{world.registry} (it added [0])"
    )
    bundle["checkpoint"]["tx_hash"] = "0x" + "ab" * 32  # no such transaction
    result = verify_bundle(world, bundle, tmp_path)
    assert result.returncode == 1
    assert last_line(result) == (
        f"FAIL on chain: transaction 0x{'ab' * 32}: not found on chain {world.node.chain_id}"
    )


def test_a_tampered_leaf_byte_fails_the_leaf_hash(world: World, tmp_path: Path) -> None:
    bundle = make_bundle(world)
    leaf = bytearray(bytes.fromhex(bundle["leaf"]["leaf_hex"]))
    leaf[leaf.index(b"4980")] = ord("5")
    bundle["leaf"]["leaf_hex"] = leaf.hex()
    result = verify_bundle(world, bundle, tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [last_line(result)]
    assert last_line(result).startswith("FAIL leaf hash: SHA-256(0x00 || leaf) is ")


def test_a_modified_proof_fails_inclusion(world: World, tmp_path: Path) -> None:
    bundle = make_bundle(world)
    proof = bundle["inclusion_proof_hex"]
    proof[1] = ("ff" if proof[1][:2] != "ff" else "00") + proof[1][2:]
    result = verify_bundle(world, bundle, tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == "ok   leaf hash"
    assert last_line(result).startswith("FAIL inclusion proof: the 5 proof hashes do not lead")


def test_the_wrong_chain_fails(world: World, tmp_path: Path) -> None:
    result = verify_bundle(world, make_bundle(world), tmp_path, "--chain-id", "1")
    assert result.returncode == 1
    assert last_line(result) == (
        f"FAIL on chain: the bundle is for chain {world.node.chain_id}, you expect chain 1"
    )
    # a bundle claiming chain 1, checked on a node of chain 31337
    bundle = make_bundle(world)
    bundle["checkpoint"]["chain_id"] = 1
    result = verify_bundle(world, bundle, tmp_path)
    assert result.returncode == 1
    assert last_line(result) == (
        f"FAIL on chain: the node at {world.node.url} is chain {world.node.chain_id}, not chain 1"
    )


def test_the_wrong_contract_fails(world: World, tmp_path: Path) -> None:
    result = verify_bundle(world, make_bundle(world), tmp_path, "--contract", world.other_registry)
    assert result.returncode == 1
    assert last_line(result) == (
        f"FAIL on chain: the bundle names contract {world.registry}, you expect "
        f"{world.other_registry}"
    )
    # the bundle names the other registry, which holds no checkpoint
    bundle = make_bundle(world)
    bundle["checkpoint"]["contract_address"] = world.other_registry
    result = verify_bundle(world, bundle, tmp_path)
    assert result.returncode == 1
    assert last_line(result) == (
        f"FAIL on chain: checkpoint 1 of {world.other_registry}: the contract holds only 0 "
        "checkpoint(s)"
    )


def test_a_root_not_on_chain_fails(world: World, tmp_path: Path) -> None:
    # A tree of 24 leaves: a valid proof of a real leaf, but no checkpoint has that root.
    bundle = make_bundle(world)
    bundle["checkpoint"]["tree_size"] = 24
    bundle["checkpoint"]["root_hex"] = world.tree.root(24).hex()
    bundle["inclusion_proof_hex"] = world.tree.proof(world.reading_index, 24)
    result = verify_bundle(world, bundle, tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines()[1] == (
        f"ok   inclusion proof (index {world.reading_index} in tree of 24)"
    )
    assert last_line(result) == (
        f"FAIL on chain: checkpoint 1 of {world.registry} on chain {world.node.chain_id} has "
        f"tree size 25 and root {world.tree.root(25).hex()}, the bundle claims tree size 24 and "
        f"root {world.tree.root(24).hex()}"
    )


def test_an_anchored_lie_fails_the_provenance_check(world: World, tmp_path: Path) -> None:
    result = verify_bundle(world, make_bundle(world, number=2, lie=True), tmp_path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert [line[:5] for line in lines] == ["ok   "] * 5 + ["FAIL "]
    assert lines[4] == "ok   batch hash"
    assert lines[5] == (
        f"FAIL reading is not in the signed batch: the leaf says energy_wh 2980 for "
        f"[{READINGS[1].start_s}, {READINGS[1].end_s}), the meter signed energy_wh 4980"
    )


def test_a_wrong_signature_fails(world: World, tmp_path: Path) -> None:
    bundle = make_bundle(world)
    other = Ed25519PrivateKey.generate()
    bundle["provenance"]["signature_hex"] = signing.sign(other, world.batch).hex()
    result = verify_bundle(world, bundle, tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines()[-2] == "ok   meter key leaf included"
    assert last_line(result).startswith(
        f"FAIL signature: the signature does not verify over the batch with meter {METER_ID}'s"
    )


def test_unusable_input_exits_2(world: World, tmp_path: Path) -> None:
    path = tmp_path / "bundle.json"
    path.write_text("{not json")
    result = verify("bundle", str(path), "--rpc", world.node.url)
    assert result.returncode == 2
    assert "cannot read" in result.stderr

    path.write_text(json.dumps(make_bundle(world)))
    result = verify("bundle", str(path), "--rpc", "http://127.0.0.1:9", "--timeout", "2")
    assert result.returncode == 2
    assert result.stdout.splitlines()[:2] == ["ok   leaf hash", result.stdout.splitlines()[1]]
    assert "cannot read eth_chainId" in result.stderr


def consistency(world: World, first: int, second: int, proof: list[bytes], tmp_path: Path) -> Any:
    path = tmp_path / "consistency.json"
    path.write_text(json.dumps({"proof_hex": [h.hex() for h in proof]}))
    return verify(
        "consistency",
        "--rpc",
        world.node.url,
        "--contract",
        world.registry,
        "--from",
        str(first),
        "--to",
        str(second),
        "--proof",
        str(path),
    )


def test_consistency_between_real_checkpoints(world: World, tmp_path: Path) -> None:
    size0, size1, _ = world.sizes
    proof = merkle.consistency_proof(world.tree.get, size0, size1)
    result = consistency(world, 0, 1, proof, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert last_line(result) == (
        f"ok   consistency: checkpoint 1 (tree size {size1}) extends checkpoint 0 "
        f"(tree size {size0})"
    )
    assert len(result.stdout.splitlines()) == 3


def test_checkpoints_that_do_not_extend_each_other_fail(world: World, tmp_path: Path) -> None:
    _, size1, size2 = world.sizes
    for proof in (
        merkle.consistency_proof(world.lie_tree.get, size1, size2),
        merkle.consistency_proof(world.tree.get, 10, size1),
    ):
        result = consistency(world, 1, 2, proof, tmp_path)
        assert result.returncode == 1
        assert last_line(result).startswith(
            f"FAIL consistency: the {len(proof)} proof hashes do not show that the tree of "
            f"{size1} leaves (checkpoint 1) is a prefix of the tree of {size2} leaves"
        )
