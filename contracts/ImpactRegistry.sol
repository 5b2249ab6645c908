// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title ImpactRegistry: checkpoints of the green bond impact log
/// @notice Each checkpoint commits to a tree head of the service's append-only RFC 9162 Merkle
/// log (tree size and root), the time it closes, a hash of the methodology and emission-factor
/// set, and every bond's cumulative totals as of the checkpoint, so the chain alone shows each
/// bond's impact over time. Checkpoints are numbered from 0 in the order they were added; only
/// ANCHOR_ROLE may add one, and only with a tree size larger than the latest one.
contract ImpactRegistry is AccessControl {
    bytes32 public constant ANCHOR_ROLE = keccak256("ANCHOR_ROLE");

    /// @notice A bond's cumulative totals as of a checkpoint. Signed: a building can consume
    /// more than its benchmark.
    struct BondTotal {
        uint64 bondId;
        int128 reductionWh;
        int128 co2AvoidedG;
    }

    struct Checkpoint {
        uint64 treeSize;
        uint64 closesAt;
        uint64 anchoredAt;
        bytes32 root;
        bytes32 methodologyHash;
        BondTotal[] totals;
    }

    Checkpoint[] private _checkpoints;

    /// @notice The new tree size is not larger than the latest checkpoint's (0 when none).
    error TreeSizeNotGrowing(uint64 latest, uint64 given);
    /// @notice `totals` must list each bond once, by strictly ascending bondId.
    error BondsNotAscending(uint256 index, uint64 bondId);
    error NoCheckpoint();
    error CheckpointNotFound(uint256 number, uint256 count);

    event CheckpointAdded(
        uint256 indexed number,
        uint64 treeSize,
        bytes32 root,
        uint64 closesAt,
        bytes32 methodologyHash,
        BondTotal[] totals
    );

    constructor() {
        _grantRole(DEFAULT_ADMIN_ROLE, msg.sender);
        _grantRole(ANCHOR_ROLE, msg.sender);
    }

    /// @notice Records a checkpoint and returns its number (0 for the first one).
    /// @param closesAt unix seconds: the time the checkpoint closes
    /// @param totals every bond's cumulative totals, strictly ascending by bondId
    function addCheckpoint(
        uint64 treeSize,
        bytes32 root,
        uint64 closesAt,
        bytes32 methodologyHash,
        BondTotal[] calldata totals
    ) external onlyRole(ANCHOR_ROLE) returns (uint256 number) {
        number = _checkpoints.length;
        uint64 latest = number == 0 ? 0 : _checkpoints[number - 1].treeSize;
        if (treeSize <= latest) revert TreeSizeNotGrowing(latest, treeSize);

        Checkpoint storage cp = _checkpoints.push();
        cp.treeSize = treeSize;
        cp.closesAt = closesAt;
        cp.anchoredAt = uint64(block.timestamp);
        cp.root = root;
        cp.methodologyHash = methodologyHash;
        for (uint256 i = 0; i < totals.length; ++i) {
            if (i > 0 && totals[i].bondId <= totals[i - 1].bondId) {
                revert BondsNotAscending(i, totals[i].bondId);
            }
            cp.totals.push(totals[i]);
        }
        emit CheckpointAdded(number, treeSize, root, closesAt, methodologyHash, totals);
    }

    function checkpointCount() external view returns (uint256) {
        return _checkpoints.length;
    }

    function getCheckpoint(uint256 number)
        public
        view
        returns (
            uint64 treeSize,
            bytes32 root,
            uint64 closesAt,
            bytes32 methodologyHash,
            BondTotal[] memory totals,
            uint64 anchoredAt
        )
    {
        if (number >= _checkpoints.length) revert CheckpointNotFound(number, _checkpoints.length);
        Checkpoint storage cp = _checkpoints[number];
        return (cp.treeSize, cp.root, cp.closesAt, cp.methodologyHash, cp.totals, cp.anchoredAt);
    }

    /// @notice The latest checkpoint with its number; reverts NoCheckpoint() when there is none.
    function latestCheckpoint()
        external
        view
        returns (
            uint256 number,
            uint64 treeSize,
            bytes32 root,
            uint64 closesAt,
            bytes32 methodologyHash,
            BondTotal[] memory totals,
            uint64 anchoredAt
        )
    {
        if (_checkpoints.length == 0) revert NoCheckpoint();
        number = _checkpoints.length - 1;
        (treeSize, root, closesAt, methodologyHash, totals, anchoredAt) = getCheckpoint(number);
    }

    /// @notice The checkpoint with exactly this tree size, if any (tree sizes strictly grow, so
    /// there is at most one): lets an anchorer that crashed after sending a transaction
    /// recognise its own checkpoint on restart. Binary search: O(log n) reads.
    function checkpointNumberForTreeSize(uint64 treeSize)
        external
        view
        returns (bool found, uint256 number)
    {
        uint256 lo = 0;
        uint256 hi = _checkpoints.length;
        while (lo < hi) {
            uint256 mid = (lo + hi) / 2;
            uint64 size = _checkpoints[mid].treeSize;
            if (size == treeSize) return (true, mid);
            if (size < treeSize) lo = mid + 1;
            else hi = mid;
        }
        return (false, 0);
    }

    /// @notice RFC 9162 section 2.1.3.2: whether `proof` shows that the leaf with hash
    /// `leafHash` (SHA-256 of 0x00 || leaf) is leaf `index` of the tree of `treeSize` leaves
    /// whose root is `root`. Nodes are SHA-256(0x01 || left || right).
    function verifyInclusion(
        bytes32 leafHash,
        uint256 index,
        uint256 treeSize,
        bytes32[] calldata proof,
        bytes32 root
    ) external pure returns (bool) {
        if (index >= treeSize) return false;
        uint256 fn = index;
        uint256 sn = treeSize - 1;
        bytes32 r = leafHash;
        for (uint256 i = 0; i < proof.length; ++i) {
            if (sn == 0) return false;
            bytes32 p = proof[i];
            if (fn & 1 == 1 || fn == sn) {
                r = sha256(abi.encodePacked(bytes1(0x01), p, r));
                if (fn & 1 == 0) {
                    while (fn & 1 == 0 && fn != 0) {
                        fn >>= 1;
                        sn >>= 1;
                    }
                }
            } else {
                r = sha256(abi.encodePacked(bytes1(0x01), r, p));
            }
            fn >>= 1;
            sn >>= 1;
        }
        return sn == 0 && r == root;
    }
}
