"""ImpactRegistry on a real Anvil node (Berlin EVM, like the production chain): roles, growing
tree sizes, the event and the views, and verifyInclusion against the Python verifier on every
RFC 9162 test vector and on random trees. Also, for every contract (the bond token's own tests
are in test_bond_token_contract.py): the checked-in artifact is exactly what the pinned compiler
builds from the source, and it uses no opcode newer than Berlin."""

import base64
import json
import random
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, MismatchedABI
from web3.types import TxReceipt

from app.ledger.anvil import REPO
from app.ledger.contract import ANCHOR_ROLE, deploy_registry
from app.pure import merkle
from app.pure.artifact import (
    ARTIFACT_PATH,
    REGISTRY_ABI,
    REGISTRY_DEPLOYED_BYTECODE,
    artifact_path,
    load_artifact,
)
from tests.anvil import AnvilNode, run_anvil, send
from tests.anvil import custom_error as decode_custom_error

VECTORS = Path(__file__).parent / "data" / "rfc9162" / "inclusion"
ADMIN_ROLE = b"\x00" * 32
INT128_MIN, INT128_MAX = -(2**127), 2**127 - 1
UINT64_MAX = 2**64 - 1
CONTRACTS = ["ImpactRegistry", "PersonalInfo", "GreenBondToken", "HoldingsReader", "CarbonCredit"]


@pytest.fixture(scope="module")
def anvil() -> Iterator[AnvilNode]:
    with run_anvil() as node:
        yield node


@pytest.fixture
def w3(anvil: AnvilNode) -> Web3:
    return anvil.web3()


@pytest.fixture
def admin(anvil: AnvilNode) -> LocalAccount:
    return anvil.funded_account()


@pytest.fixture
def registry(w3: Web3, admin: LocalAccount) -> Contract:
    return w3.eth.contract(address=deploy_registry(w3, admin), abi=REGISTRY_ABI)


def custom_error(excinfo: pytest.ExceptionInfo[ContractCustomError]) -> tuple[Any, ...]:
    """(name, *args) of the registry's custom error."""
    return decode_custom_error(excinfo, REGISTRY_ABI)


def add(
    w3: Web3,
    registry: Contract,
    account: LocalAccount,
    tree_size: int,
    totals: list[tuple[int, int, int]] | None = None,
    closes_at: int = 1_767_225_600,
) -> TxReceipt:
    root = merkle.node_hash(tree_size.to_bytes(32, "big"), b"\x01" * 32)
    call = registry.functions.addCheckpoint(tree_size, root, closes_at, b"\x07" * 32, totals or [])
    receipt = send(w3, account, call)
    assert receipt["status"] == 1
    return receipt


# --- deployment and roles ---------------------------------------------------------------------


def test_deployed_code_and_roles(w3: Web3, registry: Contract, admin: LocalAccount) -> None:
    assert w3.eth.get_code(registry.address) == bytes.fromhex(REGISTRY_DEPLOYED_BYTECODE[2:])
    assert registry.functions.ANCHOR_ROLE().call() == ANCHOR_ROLE == Web3.keccak(text="ANCHOR_ROLE")
    assert registry.functions.hasRole(ADMIN_ROLE, admin.address).call()
    assert registry.functions.hasRole(ANCHOR_ROLE, admin.address).call()
    assert registry.functions.getRoleAdmin(ANCHOR_ROLE).call() == ADMIN_ROLE
    assert registry.functions.checkpointCount().call() == 0


def test_only_the_anchor_role_adds_checkpoints(
    anvil: AnvilNode, w3: Web3, registry: Contract, admin: LocalAccount
) -> None:
    other = anvil.funded_account()
    call = registry.functions.addCheckpoint(5, b"\x01" * 32, 1, b"\x02" * 32, [])
    with pytest.raises(ContractCustomError) as e:
        call.call({"from": other.address})
    assert custom_error(e) == ("AccessControlUnauthorizedAccount", other.address, ANCHOR_ROLE)
    # Mined, not only simulated: the transaction reverts and nothing is stored.
    assert send(w3, other, call, gas=500_000)["status"] == 0
    assert registry.functions.checkpointCount().call() == 0
    # Nor can it grant itself the role: only DEFAULT_ADMIN_ROLE can.
    with pytest.raises(ContractCustomError) as e:
        registry.functions.grantRole(ANCHOR_ROLE, other.address).call({"from": other.address})
    assert custom_error(e) == ("AccessControlUnauthorizedAccount", other.address, ADMIN_ROLE)

    assert send(w3, admin, registry.functions.grantRole(ANCHOR_ROLE, other.address))["status"]
    assert send(w3, other, call)["status"] == 1
    assert registry.functions.checkpointCount().call() == 1

    assert send(w3, admin, registry.functions.revokeRole(ANCHOR_ROLE, other.address))["status"]
    with pytest.raises(ContractCustomError) as e:
        registry.functions.addCheckpoint(6, b"\x01" * 32, 1, b"\x02" * 32, []).call(
            {"from": other.address}
        )
    assert custom_error(e)[0] == "AccessControlUnauthorizedAccount"


def test_tree_size_must_grow(w3: Web3, registry: Contract, admin: LocalAccount) -> None:
    def rejected(tree_size: int) -> tuple[Any, ...]:
        with pytest.raises(ContractCustomError) as e:
            registry.functions.addCheckpoint(tree_size, b"\x01" * 32, 1, b"\x02" * 32, []).call(
                {"from": admin.address}
            )
        return custom_error(e)

    assert rejected(0) == ("TreeSizeNotGrowing", 0, 0)  # an empty log is never anchored
    add(w3, registry, admin, 10)
    assert rejected(10) == ("TreeSizeNotGrowing", 10, 10)
    assert rejected(9) == ("TreeSizeNotGrowing", 10, 9)
    assert rejected(1) == ("TreeSizeNotGrowing", 10, 1)
    add(w3, registry, admin, 11)
    add(w3, registry, admin, UINT64_MAX)
    assert rejected(UINT64_MAX) == ("TreeSizeNotGrowing", UINT64_MAX, UINT64_MAX)
    assert registry.functions.checkpointCount().call() == 3


def test_bonds_listed_once_in_ascending_order(registry: Contract, admin: LocalAccount) -> None:
    for totals, index, bond in [
        ([(1, 0, 0), (1, 5, 5)], 1, 1),
        ([(2, 0, 0), (1, 5, 5)], 1, 1),
        ([(1, 0, 0), (3, 0, 0), (3, 0, 0)], 2, 3),
    ]:
        with pytest.raises(ContractCustomError) as e:
            registry.functions.addCheckpoint(1, b"\x01" * 32, 1, b"\x02" * 32, totals).call(
                {"from": admin.address}
            )
        assert custom_error(e) == ("BondsNotAscending", index, bond)


def test_event_and_views_return_what_was_written(
    w3: Web3, registry: Contract, admin: LocalAccount
) -> None:
    with pytest.raises(ContractCustomError) as e:
        registry.functions.latestCheckpoint().call()
    assert custom_error(e) == ("NoCheckpoint",)
    with pytest.raises(ContractCustomError) as e:
        registry.functions.getCheckpoint(0).call()
    assert custom_error(e) == ("CheckpointNotFound", 0, 0)

    written = []
    for n, totals in enumerate(
        [
            [],
            [(1, 1_234_567, 890)],
            # Negative totals (more consumed than the benchmark) and the extremes of each type.
            [(1, -5_000, -2_100), (7, INT128_MAX, INT128_MIN), (UINT64_MAX, INT128_MIN, 0)],
        ]
    ):
        tree_size, root, closes_at, methodology = (
            100 * (n + 1),
            bytes([n]) * 32,
            1_700_000_000 + n,
            Web3.keccak(n),
        )
        call = registry.functions.addCheckpoint(tree_size, root, closes_at, methodology, totals)
        assert call.call({"from": admin.address}) == n  # the number it returns: from 0
        receipt = send(w3, admin, call)
        assert receipt["status"] == 1
        (event,) = registry.events.CheckpointAdded().process_receipt(receipt)
        args = event["args"]
        assert (
            args["number"],
            args["treeSize"],
            args["root"],
            args["closesAt"],
            args["methodologyHash"],
            [(t["bondId"], t["reductionWh"], t["co2AvoidedG"]) for t in args["totals"]],
        ) == (n, tree_size, root, closes_at, methodology, totals)
        anchored_at = w3.eth.get_block(receipt["blockNumber"])["timestamp"]
        written.append((tree_size, root, closes_at, methodology, totals, anchored_at))

    assert registry.functions.checkpointCount().call() == 3
    for n, expected in enumerate(written):
        got = registry.functions.getCheckpoint(n).call()
        got[4] = [tuple(t) for t in got[4]]
        assert tuple(got) == expected
    latest = registry.functions.latestCheckpoint().call()
    latest[5] = [tuple(t) for t in latest[5]]
    assert tuple(latest) == (2, *written[2])
    with pytest.raises(ContractCustomError) as e:
        registry.functions.getCheckpoint(3).call()
    assert custom_error(e) == ("CheckpointNotFound", 3, 3)


def test_checkpoint_number_for_tree_size(w3: Web3, registry: Contract, admin: LocalAccount) -> None:
    lookup = registry.functions.checkpointNumberForTreeSize
    assert lookup(0).call() == [False, 0]
    assert lookup(5).call() == [False, 0]
    sizes = [3, 7, 8, 20, 1000, 1001, 65_536]
    for size in sizes:
        add(w3, registry, admin, size)
    for n, size in enumerate(sizes):
        assert lookup(size).call() == [True, n]
    for size in [0, 1, 2, 4, 9, 21, 999, 1002, 65_535, 65_537, UINT64_MAX]:
        assert lookup(size).call() == [False, 0]


def test_state_survives_a_node_restart(tmp_path: Path) -> None:
    """With --state the node writes its chain on stop and loads it on start (what a test of
    anchoring across node restarts builds on)."""
    state = tmp_path / "anvil-state.json"
    with run_anvil(state=state) as node:
        w3 = node.web3()
        admin = node.funded_account()
        registry = w3.eth.contract(address=deploy_registry(w3, admin), abi=REGISTRY_ABI)
        add(w3, registry, admin, 42, [(3, -1, 2)])
        before = registry.functions.latestCheckpoint().call()
    assert state.exists()
    with run_anvil(state=state) as node:
        w3 = node.web3()
        registry = w3.eth.contract(address=registry.address, abi=REGISTRY_ABI)
        assert registry.functions.latestCheckpoint().call() == before
        assert registry.functions.checkpointNumberForTreeSize(42).call() == [True, 0]


# --- verifyInclusion --------------------------------------------------------------------------


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value) if value else b""


def _vector(path: Path) -> tuple[bytes, int, int, list[bytes], bytes, bool]:
    case = json.loads(path.read_text())
    proof = [_b64(p) for p in case["proof"] or []]
    return (
        _b64(case["leafHash"]),
        case["leafIdx"],
        case["treeSize"],
        proof,
        _b64(case["root"]),
        case["wantErr"],
    )


def _representable(leaf: bytes, proof: list[bytes], root: bytes) -> bool:
    """The contract takes bytes32 only: a vector with a hash of another length (garbage before
    or after the proof, a wrong-length leaf) cannot be passed to it as it is."""
    return all(len(h) == 32 for h in [leaf, root, *proof])


INCLUSION_VECTORS = sorted(VECTORS.glob("*/*.json"))


def test_inclusion_vectors_present() -> None:
    vectors = [_vector(p) for p in INCLUSION_VECTORS]
    unrepresentable = [v for v in vectors if not _representable(v[0], v[3], v[4])]
    # 4 trees x (garbage before the proof, garbage after it, a 9-byte leaf hash)
    assert len(vectors) == 69 and len(unrepresentable) == 12


@pytest.mark.parametrize("path", INCLUSION_VECTORS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_verify_inclusion_agrees_on_vector(registry: Contract, path: Path) -> None:
    leaf, index, size, proof, root, want_err = _vector(path)
    python = merkle.verify_inclusion(leaf, index, size, proof, root)
    assert python is not want_err
    verify = registry.functions.verifyInclusion
    if _representable(leaf, proof, root):
        assert verify(leaf, index, size, proof, root).call() is python
    else:
        # Not representable as bytes32: web3 refuses to encode the call (it checks byte lengths
        # strictly), so such a proof can never reach the contract; Python rejects it above.
        assert want_err
        with pytest.raises(MismatchedABI):
            verify(leaf, index, size, proof, root).call()


class MemoryTree:
    def __init__(self, size: int, rng: random.Random) -> None:
        self.nodes: dict[tuple[int, int], bytes] = {}
        leaves = [merkle.leaf_hash(rng.randbytes(rng.randrange(0, 40))) for _ in range(size)]
        for level, index, h in merkle.append(self.get, 0, leaves):
            self.nodes[(level, index)] = h

    def get(self, level: int, index: int) -> bytes:
        return self.nodes[(level, index)]


def _flip(value: bytes, rng: random.Random) -> bytes:
    i = rng.randrange(len(value) * 8)
    return (int.from_bytes(value, "big") ^ (1 << i)).to_bytes(len(value), "big")


def test_verify_inclusion_agrees_on_random_trees(w3: Web3, registry: Contract) -> None:
    rng = random.Random(9162)
    tree = MemoryTree(1100, rng)
    sizes = [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 64, 65, 1024, 1025, 1100]
    sizes += [rng.randrange(1, 1101) for _ in range(14)]
    verify = registry.functions.verifyInclusion
    accepted = rejected = 0
    for size in sizes:
        root = merkle.root(tree.get, size)
        for index in {0, size - 1, rng.randrange(size)}:
            leaf = tree.get(0, index)
            proof = merkle.inclusion_proof(tree.get, index, size)
            cases = [
                (leaf, index, size, proof, root),
                (_flip(leaf, rng), index, size, proof, root),
                (leaf, index, size, proof, _flip(root, rng)),
                (leaf, index + 1, size, proof, root),
                (leaf, index, size + 1, proof, root),
                (leaf, index, size, [*proof, root], root),
                (leaf, size, size, proof, root),
                (leaf, index, 2**256 - 1, proof, root),
            ]
            if proof:
                k = rng.randrange(len(proof))
                cases.append((leaf, index, size, proof[:k] + proof[k + 1 :], root))
                cases.append(
                    (leaf, index, size, [*proof[:k], _flip(proof[k], rng), *proof[k + 1 :]], root)
                )
            if index > 0:
                cases.append((leaf, index - 1, size, proof, root))
            if size > 1:
                cases.append((leaf, index, size - 1, proof, root))
                # The root's right child claimed as the only leaf of a tree of size 1, with the
                # left child as proof: hashes to the root, but sn reaches 0 before the proof ends.
                half = 1 << ((size - 1).bit_length() - 1)
                left = merkle.subtree_hash(tree.get, 0, half)
                right = merkle.subtree_hash(tree.get, half, size)
                assert merkle.node_hash(left, right) == root
                cases.append((right, 0, 1, [left], root))
            with w3.batch_requests() as batch:  # one HTTP request for all the cases
                for case in cases:
                    batch.add(verify(*case))
                on_chain = cast(list[bool], batch.execute())
            for i, (case, contract) in enumerate(zip(cases, on_chain, strict=True)):
                python = merkle.verify_inclusion(*case)
                # The honest proof verifies. A mutated one mostly does not, but can: the path
                # of leaf 0 in a tree of 3 also fits size 4, so only agreement is asserted.
                assert python or i > 0, (size, index)
                assert contract is python, (size, index, i)
                accepted += python
                rejected += not python
    assert accepted > 60 and rejected > 500


# --- the build --------------------------------------------------------------------------------


def test_checked_in_artifacts_equal_a_fresh_build(tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node, "Node.js is needed to build the contracts (see README, Contracts)"
    build = subprocess.run(
        [node, str(REPO / "contracts" / "build.mjs"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert build.returncode == 0, build.stderr + "\n(run `make contracts`?)"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.json" for n in CONTRACTS)
    assert artifact_path("ImpactRegistry") == ARTIFACT_PATH
    hint = "contracts/artifacts is stale: run `make contracts` and commit the artifacts"
    for name in CONTRACTS:
        fresh = json.loads((tmp_path / f"{name}.json").read_text())
        checked_in = json.loads(artifact_path(name).read_text())
        for key in ["abi", "bytecode", "deployedBytecode"]:
            assert json.dumps(fresh[key]) == json.dumps(checked_in[key]), f"{name} {key}: {hint}"
        assert (tmp_path / f"{name}.json").read_bytes() == artifact_path(name).read_bytes(), hint


# Opcodes that a Berlin chain does not have: BASEFEE (London), PUSH0 (Shanghai), TLOAD, TSTORE,
# MCOPY, BLOBHASH, BLOBBASEFEE (Cancun).
POST_BERLIN = {0x48: "BASEFEE", 0x5F: "PUSH0", 0x5C: "TLOAD", 0x5D: "TSTORE", 0x5E: "MCOPY"}
POST_BERLIN |= {0x49: "BLOBHASH", 0x4A: "BLOBBASEFEE"}


def _opcodes(code: bytes) -> Iterator[int]:
    pc = 0
    while pc < len(code):
        op = code[pc]
        yield op
        pc += 1 + (op - 0x5F if 0x60 <= op <= 0x7F else 0)  # skip PUSH1..PUSH32 data


@pytest.mark.parametrize("name", CONTRACTS)
def test_bytecode_has_no_opcode_newer_than_berlin(name: str) -> None:
    artifact = load_artifact(name)
    runtime = bytes.fromhex(artifact.deployed_bytecode[2:])
    creation = bytes.fromhex(artifact.bytecode[2:])
    code = runtime[: -2 - int.from_bytes(runtime[-2:], "big")]  # without the CBOR metadata
    # HoldingsReader's constructor returns its answer, never the runtime code: it is all there is.
    constructor = creation[: creation.index(runtime)] if runtime in creation else creation
    for part in (code, constructor):
        used = {POST_BERLIN[op] for op in _opcodes(part) if op in POST_BERLIN}
        assert not used


def test_node_runs_the_berlin_evm(anvil: AnvilNode, w3: Web3) -> None:
    """The chain the tests run on rejects PUSH0, so the contract tests above prove the
    bytecode runs on a pre-Shanghai EVM."""
    account = anvil.funded_account()
    tx: dict[str, Any] = {
        "data": "0x5f5ff3",  # PUSH0 PUSH0 RETURN: deploys empty code where PUSH0 exists
        "gas": 100_000,
        "gasPrice": w3.eth.gas_price,
        "nonce": w3.eth.get_transaction_count(account.address),
        "chainId": w3.eth.chain_id,
    }
    signed = account.sign_transaction(tx)
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(signed.raw_transaction)
    )
    assert receipt["status"] == 0
