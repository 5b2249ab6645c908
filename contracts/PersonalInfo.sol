// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title PersonalInfo: bondholders' personal information, encrypted for each issuer
/// @notice A holder registers, once per issuer, a blob that holds their name, address and
/// contact encrypted off chain with that issuer's public key: the chain stores and shows only
/// ciphertext, never clear text, and only the issuer can read it. A security token accepts a
/// holder as a transfer recipient once `isRegistered(holder, issuer)`. Modelled on the
/// PersonalInfo contract of BOOSTRY's ibet-SmartContract (the ledger of ibet for Fin), with one
/// difference: the holder registers once and changes the blob with `modify`, which the issuer
/// may also call (to re-encrypt the blob under a new key, for instance), so `Register` marks a
/// first registration only.
contract PersonalInfo {
    struct Info {
        bool registered;
        string encryptedInfo;
    }

    // holder => issuer => info
    mapping(address => mapping(address => Info)) private _info;

    /// @notice The holder already registered for this issuer: use `modify`.
    error AlreadyRegistered(address account, address issuer);
    error NotRegistered(address account, address issuer);
    /// @notice An empty blob would register nothing the issuer can read.
    error EmptyInfo();
    /// @notice Only the holder or the issuer may change a registration.
    error NotHolderOrIssuer(address caller);

    event Register(address indexed account, address indexed issuer);
    /// @param by the holder or the issuer, whoever changed the blob
    event Modify(address indexed account, address indexed issuer, address by);

    /// @notice The caller registers their encrypted information for `issuer`.
    function register(address issuer, string calldata encryptedInfo) external {
        if (bytes(encryptedInfo).length == 0) revert EmptyInfo();
        Info storage info = _info[msg.sender][issuer];
        if (info.registered) revert AlreadyRegistered(msg.sender, issuer);
        info.registered = true;
        info.encryptedInfo = encryptedInfo;
        emit Register(msg.sender, issuer);
    }

    /// @notice Replaces the blob of `account`'s registration for `issuer`; the caller is the
    /// holder or the issuer.
    function modify(address account, address issuer, string calldata encryptedInfo) external {
        if (msg.sender != account && msg.sender != issuer) revert NotHolderOrIssuer(msg.sender);
        if (bytes(encryptedInfo).length == 0) revert EmptyInfo();
        Info storage info = _info[account][issuer];
        if (!info.registered) revert NotRegistered(account, issuer);
        info.encryptedInfo = encryptedInfo;
        emit Modify(account, issuer, msg.sender);
    }

    function isRegistered(address account, address issuer) external view returns (bool) {
        return _info[account][issuer].registered;
    }

    /// @notice The encrypted blob `account` registered for `issuer` (empty when not registered).
    function personalInfo(address account, address issuer) external view returns (string memory) {
        return _info[account][issuer].encryptedInfo;
    }
}
