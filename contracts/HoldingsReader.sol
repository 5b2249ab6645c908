// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @notice The one view of GreenBondToken the reader calls.
interface IHoldings {
    function holdingOf(address account)
        external
        view
        returns (uint256 balance, uint256 locked, uint256 pending);
}

/// @title HoldingsReader: many holdings of a GreenBondToken in one eth_call, never deployed
/// @notice The bond token indexer sends this contract's creation code with its constructor
/// arguments as the data of an `eth_call` without a recipient: the node only simulates the
/// creation, at the block the call names. The constructor reads `token.holdingOf(account)` for
/// each account and returns the results (three words per account: balance, locked, pending, in
/// the order of `accounts`) in place of runtime code. Each holding is the contract's own answer,
/// exactly as one `holdingOf` call per account would give it; one call per block and batch of
/// accounts saves a node round trip, and a state lookup, per account. The answer is returned as
/// code, so EIP-170 (24,576 bytes) caps a call at 256 accounts.
contract HoldingsReader {
    constructor(IHoldings token, address[] memory accounts) {
        uint256 n = accounts.length;
        uint256[] memory words = new uint256[](3 * n);
        for (uint256 i = 0; i < n; ++i) {
            (words[3 * i], words[3 * i + 1], words[3 * i + 2]) = token.holdingOf(accounts[i]);
        }
        assembly ("memory-safe") {
            // The array's words without its length word.
            return(add(words, 0x20), mul(mload(words), 0x20))
        }
    }
}
