// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";
import {ImpactRegistry} from "./ImpactRegistry.sol";
import {PersonalInfo} from "./PersonalInfo.sol";

/// @title GreenBondToken: a green bond as a security token, linked to its anchored impact
/// @notice A straight bond modelled on IbetStraightBond of BOOSTRY's ibet-SmartContract (the
/// security tokens of ibet for Fin), without the exchange, escrow and DVP parts: the bond terms,
/// issue and redemption by the issuer (also on a locked balance), transfers only to holders
/// registered in PersonalInfo for the issuer, an optional transfer approval by the issuer, and
/// locks. The issuer is the deployer and never changes: holders' registrations are encrypted
/// for and keyed by it.
///
/// Every unit of totalSupply is, for exactly one account, in one of three places: its free
/// balance (`balanceOf`), a balance locked to a lock address (`lockedOf`; `totalLockedOf` sums
/// them), or a pending transfer it applied for (`pendingTransfer`). An account's holding is the
/// sum of the three; it owns the impact attributed to it (`holderImpact`).
///
/// The token points at the ImpactRegistry that anchors the bond's cumulative totals, and at
/// the bond's id there, so a holding's share of the latest anchored totals is one `eth_call`.
contract GreenBondToken {
    /// @notice The bond's terms, fixed at deployment.
    /// @param interestRate yearly, in percent with 4 decimals: 12500 is 1.2500 %
    /// @param interestPaymentDates every interest payment date, YYYYMMDD (20300331), strictly
    /// ascending, none after `redemptionDate`
    /// @param redemptionDate YYYYMMDD
    /// @param faceValue and redemptionValue: per unit, in whole units of `currency`
    /// @param currency ISO 4217 code (JPY)
    struct Terms {
        string name;
        string symbol;
        uint256 faceValue;
        string currency;
        uint256 interestRate;
        uint32[] interestPaymentDates;
        uint32 redemptionDate;
        uint256 redemptionValue;
        string purpose;
    }

    /// @notice An application to transfer; `valid` until approved or cancelled.
    struct TransferApplication {
        address from;
        address to;
        uint256 amount;
        bool valid;
    }

    address public immutable issuer;
    PersonalInfo public immutable personalInfo;
    ImpactRegistry public immutable impactRegistry;
    /// @notice The bond's id in ImpactRegistry (`BondTotal.bondId`).
    uint64 public immutable bondId;

    string public name;
    string public symbol;
    uint256 public totalSupply;
    uint256 public faceValue;
    string public currency;
    uint256 public interestRate;
    uint32[] private _interestPaymentDates;
    uint32 public redemptionDate;
    uint256 public redemptionValue;
    string public purpose;

    bool public isRedeemed;
    bool public transferable;
    bool public transferApprovalRequired;

    mapping(address account => uint256) private _balances;
    mapping(address lockAddress => mapping(address account => uint256)) private _locked;
    // The sum of an account's locked balances over all lock addresses (a mapping cannot be
    // enumerated, and the holding needs it).
    mapping(address account => uint256) private _lockedTotal;
    /// @notice The amount an account applied to transfer and that waits for the issuer.
    mapping(address account => uint256) public pendingTransfer;
    /// @notice Every application to transfer, by index (from 0).
    TransferApplication[] public applicationsForTransfer;

    error NotIssuer(address caller);
    error ZeroAddress();
    /// @notice The bond is redeemed: no more issues, transfers, applications or locks.
    error BondRedeemed();
    error NotTransferable();
    /// @notice Transfers need the issuer's approval: use applyForTransfer.
    error ApprovalRequired();
    /// @notice Transfers need no approval: use transfer.
    error ApprovalNotRequired();
    /// @notice The recipient has not registered its personal information for the issuer.
    error RecipientNotRegistered(address recipient);
    error InsufficientBalance(address account, uint256 balance, uint256 needed);
    error InsufficientLockedBalance(
        address lockAddress, address account, uint256 locked, uint256 needed
    );
    error ApplicationNotFound(uint256 index, uint256 count);
    /// @notice The application was already approved or cancelled.
    error ApplicationNotValid(uint256 index);
    error NotApplicantOrIssuer(address caller);
    /// @notice ImpactRegistry holds no checkpoint yet: no impact is anchored.
    error NoCheckpoint();
    error CheckpointNotFound(uint256 number, uint256 count);
    /// @notice Not an 8-digit YYYYMMDD calendar date.
    error InvalidDate(uint32 date);
    /// @notice interestPaymentDates[index] is not after the previous date, or (index equal to
    /// the number of dates) the last one is after the redemption date.
    error ScheduleNotAscending(uint256 index);

    // Event signatures (types and order) are IbetStraightBond's, so their topics are too.
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Issue(
        address indexed from, address indexed target, address indexed lockAddress, uint256 amount
    );
    event Redeem(
        address indexed from, address indexed target, address indexed lockAddress, uint256 amount
    );
    event Lock(address indexed account, address indexed lockAddress, uint256 value, string data);
    event ForceLock(
        address indexed account, address indexed lockAddress, uint256 value, string data
    );
    event Unlock(
        address indexed account,
        address indexed lockAddress,
        address recipient,
        uint256 value,
        string data
    );
    event ForceUnlock(
        address indexed account,
        address indexed lockAddress,
        address recipient,
        uint256 value,
        string data
    );
    event ApplyForTransfer(
        uint256 indexed index, address from, address to, uint256 value, string data
    );
    event ApproveTransfer(uint256 indexed index, address from, address to, string data);
    event CancelTransfer(uint256 indexed index, address from, address to, string data);
    event ChangeToRedeemed();
    event ChangeTransferable(bool value);
    event ChangeTransferApprovalRequired(bool required);

    modifier onlyIssuer() {
        if (msg.sender != issuer) revert NotIssuer(msg.sender);
        _;
    }

    /// @notice The deployer becomes the issuer and holds `initialSupply` (an Issue event says
    /// so). Transfers start disabled and without approval; the issuer sets both.
    constructor(
        Terms memory terms,
        uint256 initialSupply,
        PersonalInfo personalInfo_,
        ImpactRegistry impactRegistry_,
        uint64 bondId_
    ) {
        if (address(personalInfo_) == address(0) || address(impactRegistry_) == address(0)) {
            revert ZeroAddress();
        }
        uint256 n = terms.interestPaymentDates.length;
        for (uint256 i = 0; i < n; ++i) {
            _requireDate(terms.interestPaymentDates[i]);
            if (i > 0 && terms.interestPaymentDates[i] <= terms.interestPaymentDates[i - 1]) {
                revert ScheduleNotAscending(i);
            }
        }
        _requireDate(terms.redemptionDate);
        if (n > 0 && terms.interestPaymentDates[n - 1] > terms.redemptionDate) {
            revert ScheduleNotAscending(n);
        }

        issuer = msg.sender;
        personalInfo = personalInfo_;
        impactRegistry = impactRegistry_;
        bondId = bondId_;
        name = terms.name;
        symbol = terms.symbol;
        faceValue = terms.faceValue;
        currency = terms.currency;
        interestRate = terms.interestRate;
        _interestPaymentDates = terms.interestPaymentDates;
        redemptionDate = terms.redemptionDate;
        redemptionValue = terms.redemptionValue;
        purpose = terms.purpose;
        if (initialSupply > 0) {
            _balances[msg.sender] = initialSupply;
            totalSupply = initialSupply;
            emit Issue(msg.sender, msg.sender, address(0), initialSupply);
        }
    }

    // --- views -------------------------------------------------------------------------------

    function interestPaymentDates() external view returns (uint32[] memory) {
        return _interestPaymentDates;
    }

    /// @notice The free balance: what the account can transfer, lock or apply to transfer.
    function balanceOf(address account) external view returns (uint256) {
        return _balances[account];
    }

    function lockedOf(address lockAddress, address account) external view returns (uint256) {
        return _locked[lockAddress][account];
    }

    function totalLockedOf(address account) external view returns (uint256) {
        return _lockedTotal[account];
    }

    /// @notice An account's whole position in one call: its holding is the sum of the three.
    function holdingOf(address account)
        external
        view
        returns (uint256 balance, uint256 locked, uint256 pending)
    {
        return (_balances[account], _lockedTotal[account], pendingTransfer[account]);
    }

    function applicationCount() external view returns (uint256) {
        return applicationsForTransfer.length;
    }

    /// @notice `account`'s share of the bond's totals in the latest ImpactRegistry checkpoint:
    /// total x holding / supply for each total, where holding = balance + all locked balances +
    /// pending transfer amount (`holdingOf`) and supply = totalSupply, both as of the block of
    /// the call. Integer arithmetic, exact in the product (512-bit `Math.mulDiv`), rounded
    /// toward zero: a negative total (more consumed than the benchmark) gives a share that is
    /// negative and no further from zero than the exact one. So the shares of all holders never
    /// add up to more than the total in absolute value. Zero shares when the checkpoint lists
    /// no total for this bond or the supply is zero.
    /// Reverts NoCheckpoint() while the registry holds no checkpoint.
    function holderImpact(address account)
        external
        view
        returns (
            uint256 checkpointNumber,
            uint256 holding,
            uint256 supply,
            int256 reductionWh,
            int256 co2AvoidedG
        )
    {
        uint256 count = impactRegistry.checkpointCount();
        if (count == 0) revert NoCheckpoint();
        return _impact(account, count - 1);
    }

    /// @notice `holderImpact` against checkpoint `number` instead of the latest one (the holding
    /// is still the one at the block of the call).
    function holderImpactAt(address account, uint256 number)
        external
        view
        returns (
            uint256 checkpointNumber,
            uint256 holding,
            uint256 supply,
            int256 reductionWh,
            int256 co2AvoidedG
        )
    {
        uint256 count = impactRegistry.checkpointCount();
        if (number >= count) revert CheckpointNotFound(number, count);
        return _impact(account, number);
    }

    // --- the issuer's settings ---------------------------------------------------------------

    function setTransferable(bool value) external onlyIssuer {
        transferable = value;
        emit ChangeTransferable(value);
    }

    /// @notice Pending applications stay pending when approval stops being required: the
    /// issuer still approves or cancels them.
    function setTransferApprovalRequired(bool required) external onlyIssuer {
        transferApprovalRequired = required;
        emit ChangeTransferApprovalRequired(required);
    }

    /// @notice Irreversible. Holders can no longer transfer, apply or lock; cancelling a
    /// pending application, unlocking to the locked account itself and every issuer-forced
    /// operation (redeemFrom above all) still work.
    function changeToRedeemed() external onlyIssuer {
        if (isRedeemed) revert BondRedeemed();
        isRedeemed = true;
        emit ChangeToRedeemed();
    }

    // --- issue and redemption ----------------------------------------------------------------

    /// @notice Issues `amount` new units to `target`: to its free balance when `lockAddress`
    /// is address(0), else to its balance locked to `lockAddress`.
    function issueFrom(address target, address lockAddress, uint256 amount) external onlyIssuer {
        if (isRedeemed) revert BondRedeemed();
        if (target == address(0)) revert ZeroAddress();
        if (lockAddress == address(0)) _balances[target] += amount;
        else _addLocked(lockAddress, target, amount);
        totalSupply += amount;
        emit Issue(msg.sender, target, lockAddress, amount);
    }

    /// @notice Redeems (burns) `amount` of `target`'s free balance when `lockAddress` is
    /// address(0), else of its balance locked to `lockAddress`.
    function redeemFrom(address target, address lockAddress, uint256 amount) external onlyIssuer {
        if (lockAddress == address(0)) _debit(target, amount);
        else _subtractLocked(lockAddress, target, amount);
        totalSupply -= amount;
        emit Redeem(msg.sender, target, lockAddress, amount);
    }

    // --- transfers ---------------------------------------------------------------------------

    /// @notice Checks in this order: not redeemed, transferable, no approval required, the
    /// recipient registered for the issuer (the issuer itself is exempt), the balance.
    function transfer(address to, uint256 value) external returns (bool) {
        _requireFreeTransfer(to);
        _debit(msg.sender, value);
        _balances[to] += value;
        emit Transfer(msg.sender, to, value);
        return true;
    }

    /// @notice The issuer moves `value` of `from`'s free balance to `to`, outside the transfer
    /// rules (a court order, an inheritance).
    function transferFrom(address from, address to, uint256 value)
        external
        onlyIssuer
        returns (bool)
    {
        if (to == address(0)) revert ZeroAddress();
        _debit(from, value);
        _balances[to] += value;
        emit Transfer(from, to, value);
        return true;
    }

    /// @notice When approval is required: moves `value` of the caller's balance into its
    /// pending amount and records an application for the issuer to approve or cancel.
    function applyForTransfer(address to, uint256 value, string calldata data) external {
        _requireMovable();
        if (!transferApprovalRequired) revert ApprovalNotRequired();
        _requireRecipient(to);
        _debit(msg.sender, value);
        pendingTransfer[msg.sender] += value;
        uint256 index = applicationsForTransfer.length;
        applicationsForTransfer.push(TransferApplication(msg.sender, to, value, true));
        emit ApplyForTransfer(index, msg.sender, to, value, data);
    }

    /// @notice The issuer approves application `index`: its amount leaves the applicant's
    /// pending amount for the recipient's balance (ApproveTransfer, then Transfer).
    function approveTransfer(uint256 index, string calldata data) external onlyIssuer {
        _requireMovable();
        TransferApplication storage application = _application(index);
        if (!application.valid) revert ApplicationNotValid(index);
        application.valid = false;
        (address from, address to, uint256 amount) =
            (application.from, application.to, application.amount);
        pendingTransfer[from] -= amount;
        _balances[to] += amount;
        emit ApproveTransfer(index, from, to, data);
        emit Transfer(from, to, amount);
    }

    /// @notice The applicant or the issuer cancels application `index`: its amount returns
    /// from the pending amount to the applicant's balance.
    function cancelTransfer(uint256 index, string calldata data) external {
        TransferApplication storage application = _application(index);
        address from = application.from;
        if (msg.sender != from && msg.sender != issuer) revert NotApplicantOrIssuer(msg.sender);
        if (!application.valid) revert ApplicationNotValid(index);
        application.valid = false;
        pendingTransfer[from] -= application.amount;
        _balances[from] += application.amount;
        emit CancelTransfer(index, from, application.to, data);
    }

    // --- locks -------------------------------------------------------------------------------

    /// @notice Locks `value` of the caller's balance to `lockAddress`, which alone (or the
    /// issuer) can release it. The locked amount stays the caller's holding.
    function lock(address lockAddress, uint256 value, string calldata data) external {
        if (isRedeemed) revert BondRedeemed();
        if (lockAddress == address(0)) revert ZeroAddress();
        _debit(msg.sender, value);
        _addLocked(lockAddress, msg.sender, value);
        emit Lock(msg.sender, lockAddress, value, data);
    }

    /// @notice The caller, as lock address, releases `value` of what `account` locked to it,
    /// to `recipient`'s free balance. Releasing to the account itself is always allowed;
    /// releasing to anyone else is a transfer and follows the rules of `transfer`.
    function unlock(address account, address recipient, uint256 value, string calldata data)
        external
    {
        if (recipient == address(0)) revert ZeroAddress();
        if (recipient != account) _requireFreeTransfer(recipient);
        _subtractLocked(msg.sender, account, value);
        _balances[recipient] += value;
        emit Unlock(account, msg.sender, recipient, value, data);
    }

    /// @notice `lock` by the issuer on `account`'s behalf.
    function forceLock(address lockAddress, address account, uint256 value, string calldata data)
        external
        onlyIssuer
    {
        if (lockAddress == address(0)) revert ZeroAddress();
        _debit(account, value);
        _addLocked(lockAddress, account, value);
        emit ForceLock(account, lockAddress, value, data);
    }

    /// @notice `unlock` by the issuer in `lockAddress`'s place, to any recipient.
    function forceUnlock(
        address lockAddress,
        address account,
        address recipient,
        uint256 value,
        string calldata data
    ) external onlyIssuer {
        if (recipient == address(0)) revert ZeroAddress();
        _subtractLocked(lockAddress, account, value);
        _balances[recipient] += value;
        emit ForceUnlock(account, lockAddress, recipient, value, data);
    }

    // --- internals ---------------------------------------------------------------------------

    function _requireMovable() private view {
        if (isRedeemed) revert BondRedeemed();
        if (!transferable) revert NotTransferable();
    }

    function _requireRecipient(address to) private view {
        if (to == address(0)) revert ZeroAddress();
        if (to != issuer && !personalInfo.isRegistered(to, issuer)) {
            revert RecipientNotRegistered(to);
        }
    }

    function _requireFreeTransfer(address to) private view {
        _requireMovable();
        if (transferApprovalRequired) revert ApprovalRequired();
        _requireRecipient(to);
    }

    function _debit(address account, uint256 value) private {
        uint256 balance = _balances[account];
        if (balance < value) revert InsufficientBalance(account, balance, value);
        unchecked {
            _balances[account] = balance - value;
        }
    }

    function _addLocked(address lockAddress, address account, uint256 value) private {
        _locked[lockAddress][account] += value;
        _lockedTotal[account] += value;
    }

    function _subtractLocked(address lockAddress, address account, uint256 value) private {
        uint256 locked = _locked[lockAddress][account];
        if (locked < value) revert InsufficientLockedBalance(lockAddress, account, locked, value);
        unchecked {
            // _lockedTotal[account] >= _locked[lockAddress][account] >= value
            _locked[lockAddress][account] = locked - value;
            _lockedTotal[account] -= value;
        }
    }

    function _application(uint256 index) private view returns (TransferApplication storage) {
        uint256 count = applicationsForTransfer.length;
        if (index >= count) revert ApplicationNotFound(index, count);
        return applicationsForTransfer[index];
    }

    function _impact(address account, uint256 number)
        private
        view
        returns (
            uint256 checkpointNumber,
            uint256 holding,
            uint256 supply,
            int256 reductionWh,
            int256 co2AvoidedG
        )
    {
        checkpointNumber = number;
        holding = _balances[account] + _lockedTotal[account] + pendingTransfer[account];
        supply = totalSupply;
        (,,,, ImpactRegistry.BondTotal[] memory totals,) = impactRegistry.getCheckpoint(number);
        for (uint256 i = 0; i < totals.length; ++i) {
            // Checkpoints list bonds by strictly ascending id.
            if (totals[i].bondId > bondId) break;
            if (totals[i].bondId == bondId) {
                reductionWh = _share(totals[i].reductionWh, holding, supply);
                co2AvoidedG = _share(totals[i].co2AvoidedG, holding, supply);
                break;
            }
        }
    }

    /// @dev total x holding / supply rounded toward zero, computed on the magnitude with a
    /// 512-bit product (no overflow for any int128 total and uint256 amounts). holding <=
    /// supply, so the magnitude is at most |total| <= 2**127 and fits an int256.
    function _share(int128 total, uint256 holding, uint256 supply) private pure returns (int256) {
        if (supply == 0) return 0;
        int256 magnitude = int256(Math.mulDiv(SignedMath.abs(total), holding, supply));
        return total < 0 ? -magnitude : magnitude;
    }

    function _requireDate(uint32 date) private pure {
        uint256 year = date / 10_000;
        uint256 month = (date / 100) % 100;
        uint256 day = date % 100;
        bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        uint256 daysInMonth = month == 2
            ? (leap ? 29 : 28)
            : (month == 4 || month == 6 || month == 9 || month == 11 ? 30 : 31);
        if (year < 1000 || year > 9999 || month < 1 || month > 12 || day < 1 || day > daysInMonth) {
            revert InvalidDate(date);
        }
    }
}
