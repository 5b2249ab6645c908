// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
// OpenZeppelin's ERC1155, less its import of utils/Arrays.sol (MCOPY, refused for Berlin).
import {ERC1155} from "./ERC1155Berlin.sol";
import {ImpactRegistry} from "./ImpactRegistry.sol";

/// @title CarbonCredit: J-Credit-style carbon credits backed by the anchored impact log
/// @notice An ERC-1155 token of emission reduction credits: 1 unit = 1 t-CO2. There is one token
/// id per project and vintage (the calendar year of the reductions): `tokenIdOf`. Units of a
/// token id are fungible; they move by plain ERC-1155 transfers.
///
/// Issuance (ISSUER_ROLE only) credits the reductions of one monitoring period of one project.
/// It must point at an ImpactRegistry checkpoint that closes after the period's last day is
/// over, and prove (RFC 9162 inclusion proof against that checkpoint's root) that the
/// verifier's approval of the monitoring report is a leaf of the anchored log. So every credit
/// traces back to a verified report of data that was anchored before the credit existed.
///
/// Double counting is refused in three ways:
/// - an approval leaf backs at most one issuance;
/// - a project's periods are credited in order, each starting after the last day already
///   credited for the project, so no day of the project's reductions is credited twice (and
///   no check needs to look at more than one stored day per project);
/// - serials: each token id numbers its units from 1, and each issuance takes the next
///   contiguous block (`serialFirst` must equal `nextSerial`). Serials are what registries and
///   buyers quote, so a block is never issued twice or left with a gap, and a client that
///   retries an issuance with the same `serialFirst` is refused instead of issuing twice.
///
/// Retirement: any holder burns its own units for a named beneficiary (the offset claim). The
/// retired units take the lowest serials of the token id not yet retired (FIFO): units are
/// fungible, so which block a holder's units came from is not tracked, and serials only keep
/// account of issuance blocks. FIFO retires every serial exactly once and in order, so the
/// retired serials of a token id are always 1..totalRetired and the live ones the rest.
///
/// Days are UTC days since 1970-01-01 (day 0).
contract CarbonCredit is ERC1155, AccessControl {
    bytes32 public constant ISSUER_ROLE = keccak256("ISSUER_ROLE");

    /// @notice The inputs of one issuance.
    /// @param projectId the project's id (part of the token id)
    /// @param vintage the calendar year of the reductions; the period lies inside it
    /// @param to receives the units
    /// @param amount units (t-CO2)
    /// @param serialFirst must be `nextSerial(tokenIdOf(projectId, vintage))`
    /// @param periodFirstDay and periodLastDay: the monitoring period, inclusive, in days
    /// @param checkpoint the ImpactRegistry checkpoint number the approval is anchored in
    /// @param reportHash the monitoring report's hash (recorded, not checked)
    /// @param approvalLeafHash RFC 9162 leaf hash of the verifier's approval of the report
    /// @param approvalLeafIndex and approvalProof: its inclusion proof in the checkpoint's tree
    struct IssueRequest {
        uint64 projectId;
        uint16 vintage;
        address to;
        uint256 amount;
        uint256 serialFirst;
        uint32 periodFirstDay;
        uint32 periodLastDay;
        uint256 checkpoint;
        bytes32 reportHash;
        bytes32 approvalLeafHash;
        uint256 approvalLeafIndex;
        bytes32[] approvalProof;
    }

    struct Issuance {
        uint64 projectId;
        uint16 vintage;
        address to;
        uint256 amount;
        uint256 serialFirst;
        uint256 serialLast;
        uint32 periodFirstDay;
        uint32 periodLastDay;
        uint256 checkpoint;
        bytes32 reportHash;
        bytes32 approvalLeafHash;
        uint64 issuedAt;
    }

    struct Retirement {
        address account;
        uint256 id;
        uint256 amount;
        uint256 serialFirst;
        uint256 serialLast;
        string beneficiary;
        string purpose;
        string period;
        uint64 retiredAt;
    }

    /// @notice The registry whose checkpoints anchor the monitoring data and approvals.
    ImpactRegistry public immutable registry;

    Issuance[] private _issuances;
    Retirement[] private _retirements;
    mapping(uint256 tokenId => uint256) private _issued;
    mapping(uint256 tokenId => uint256) private _retired;
    mapping(address account => mapping(uint256 tokenId => uint256)) private _retiredBalances;
    // The issuance id + 1 that used an approval leaf (0: unused).
    mapping(bytes32 approvalLeafHash => uint256) private _approvalUsedBy;
    // The last credited day + 1 of each project (0: nothing credited yet; day 0 is a real day).
    mapping(uint64 projectId => uint256) private _creditedThrough;

    error ZeroAmount();
    /// @notice The period's first day is after its last.
    error PeriodInvalid(uint32 firstDay, uint32 lastDay);
    /// @notice The period is not inside calendar year `vintage`.
    error VintageMismatch(uint16 vintage, uint32 firstDay, uint32 lastDay);
    /// @notice The checkpoint does not exist (closesAt 0) or closes before `periodEnd` (unix
    /// seconds: the end of the period's last day).
    error PeriodNotAnchored(uint256 checkpoint, uint64 closesAt, uint256 periodEnd);
    /// @notice The inclusion proof does not show the approval leaf in the checkpoint's tree.
    error ApprovalNotAnchored(uint256 checkpoint, bytes32 approvalLeafHash);
    error ApprovalAlreadyUsed(bytes32 approvalLeafHash, uint256 issuanceId);
    /// @notice The period does not start after the project's last credited day.
    error PeriodAlreadyCredited(uint64 projectId, uint32 periodFirstDay, uint32 lastCreditedDay);
    /// @notice serialFirst is below the token id's next serial: those serials exist already.
    error SerialsOverlap(uint256 tokenId, uint256 serialFirst, uint256 nextSerial);
    /// @notice serialFirst is above the token id's next serial: it would leave a gap.
    error SerialsNotContiguous(uint256 tokenId, uint256 serialFirst, uint256 nextSerial);
    error BeneficiaryRequired();
    error IssuanceNotFound(uint256 id, uint256 count);
    error RetirementNotFound(uint256 id, uint256 count);

    event CreditIssued(
        uint256 indexed issuanceId,
        uint256 indexed tokenId,
        uint64 indexed projectId,
        uint16 vintage,
        address to,
        uint256 amount,
        uint256 serialFirst,
        uint256 serialLast,
        uint32 periodFirstDay,
        uint32 periodLastDay,
        uint256 checkpoint,
        bytes32 reportHash,
        bytes32 approvalLeafHash
    );
    event CreditRetired(
        uint256 indexed retirementId,
        address indexed account,
        uint256 indexed id,
        uint256 amount,
        uint256 serialFirst,
        uint256 serialLast,
        string beneficiary,
        string purpose,
        string period
    );

    /// @notice The deployer gets DEFAULT_ADMIN_ROLE and ISSUER_ROLE.
    /// @param uri_ the ERC-1155 metadata URI (clients replace `{id}`)
    constructor(ImpactRegistry registry_, string memory uri_) ERC1155(uri_) {
        registry = registry_;
        _grantRole(DEFAULT_ADMIN_ROLE, msg.sender);
        _grantRole(ISSUER_ROLE, msg.sender);
    }

    // --- views -------------------------------------------------------------------------------

    /// @notice The token id of a project's credits of one vintage.
    function tokenIdOf(uint64 projectId, uint16 vintage) public pure returns (uint256) {
        return (uint256(projectId) << 16) | vintage;
    }

    function issuanceCount() external view returns (uint256) {
        return _issuances.length;
    }

    function getIssuance(uint256 id) external view returns (Issuance memory) {
        if (id >= _issuances.length) revert IssuanceNotFound(id, _issuances.length);
        return _issuances[id];
    }

    function retirementCount() external view returns (uint256) {
        return _retirements.length;
    }

    function getRetirement(uint256 id) external view returns (Retirement memory) {
        if (id >= _retirements.length) revert RetirementNotFound(id, _retirements.length);
        return _retirements[id];
    }

    /// @notice The serial the next issuance of `tokenId` must start at (1 for the first).
    function nextSerial(uint256 tokenId) external view returns (uint256) {
        return _issued[tokenId] + 1;
    }

    /// @notice The last day credited for the project (credited false: none yet).
    function lastCreditedDay(uint64 projectId) external view returns (bool credited, uint32 day) {
        uint256 through = _creditedThrough[projectId];
        if (through == 0) return (false, 0);
        return (true, uint32(through - 1));
    }

    function retiredBalanceOf(address account, uint256 id) external view returns (uint256) {
        return _retiredBalances[account][id];
    }

    /// @notice Units of `id` retired so far: serials 1..totalRetired(id) are retired.
    function totalRetired(uint256 id) external view returns (uint256) {
        return _retired[id];
    }

    /// @notice Units of `id` issued so far: serials 1..totalIssued(id) exist.
    function totalIssued(uint256 id) external view returns (uint256) {
        return _issued[id];
    }

    /// @notice Units of `id` in existence (ERC1155Supply's view): only `issue` mints and only
    /// `retire` burns, so it is the units issued less the units retired.
    function totalSupply(uint256 id) external view returns (uint256) {
        return _issued[id] - _retired[id];
    }

    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(ERC1155, AccessControl)
        returns (bool)
    {
        return super.supportsInterface(interfaceId);
    }

    // --- issuance ----------------------------------------------------------------------------

    /// @notice Issues `r.amount` units of `tokenIdOf(r.projectId, r.vintage)` to `r.to` for the
    /// project's reductions over the period, and returns the issuance id (from 0). Checks, in
    /// this order: amount and recipient, the period, the vintage, the anchoring checkpoint, the
    /// approval's inclusion proof, the approval not used before, the period after the
    /// project's credited days, the serials.
    function issue(IssueRequest calldata r)
        external
        onlyRole(ISSUER_ROLE)
        returns (uint256 issuanceId)
    {
        if (r.amount == 0) revert ZeroAmount();
        if (r.to == address(0)) revert ERC1155InvalidReceiver(address(0));
        _requirePeriod(r.vintage, r.periodFirstDay, r.periodLastDay);
        _requireAnchored(r);

        uint256 usedBy = _approvalUsedBy[r.approvalLeafHash];
        if (usedBy != 0) revert ApprovalAlreadyUsed(r.approvalLeafHash, usedBy - 1);
        uint256 through = _creditedThrough[r.projectId];
        if (through != 0 && r.periodFirstDay < through) {
            revert PeriodAlreadyCredited(r.projectId, r.periodFirstDay, uint32(through - 1));
        }
        uint256 tokenId = tokenIdOf(r.projectId, r.vintage);
        uint256 next = _issued[tokenId] + 1;
        if (r.serialFirst < next) revert SerialsOverlap(tokenId, r.serialFirst, next);
        if (r.serialFirst > next) revert SerialsNotContiguous(tokenId, r.serialFirst, next);

        issuanceId = _issuances.length;
        _approvalUsedBy[r.approvalLeafHash] = issuanceId + 1;
        _creditedThrough[r.projectId] = uint256(r.periodLastDay) + 1;
        _issued[tokenId] += r.amount;
        _issuances.push(
            Issuance({
                projectId: r.projectId,
                vintage: r.vintage,
                to: r.to,
                amount: r.amount,
                serialFirst: next,
                serialLast: next + r.amount - 1,
                periodFirstDay: r.periodFirstDay,
                periodLastDay: r.periodLastDay,
                checkpoint: r.checkpoint,
                reportHash: r.reportHash,
                approvalLeafHash: r.approvalLeafHash,
                issuedAt: uint64(block.timestamp)
            })
        );
        // Before the mint: _mint calls the recipient's onERC1155Received, and whatever that
        // does (a retirement) must come after this issuance in the log too.
        _emitIssued(issuanceId, tokenId);
        _mint(r.to, tokenId, r.amount, "");
    }

    // --- retirement --------------------------------------------------------------------------

    /// @notice Burns `amount` of the caller's units of `id` as retired for `beneficiary` and
    /// returns the retirement id (from 0). The units take the next serials of `id` not yet
    /// retired (FIFO).
    /// @param purpose free text: what the retirement offsets (a report, a product)
    /// @param period free text: the period of emissions offset (FY2025)
    function retire(
        uint256 id,
        uint256 amount,
        string calldata beneficiary,
        string calldata purpose,
        string calldata period
    ) external returns (uint256 retirementId) {
        if (amount == 0) revert ZeroAmount();
        if (bytes(beneficiary).length == 0) revert BeneficiaryRequired();
        _burn(msg.sender, id, amount);

        // Burning succeeded, so amount <= units still live: serialLast <= totalIssued(id).
        uint256 serialFirst = _retired[id] + 1;
        uint256 serialLast = serialFirst + amount - 1;
        _retired[id] += amount;
        _retiredBalances[msg.sender][id] += amount;
        retirementId = _retirements.length;
        _retirements.push(
            Retirement({
                account: msg.sender,
                id: id,
                amount: amount,
                serialFirst: serialFirst,
                serialLast: serialLast,
                beneficiary: beneficiary,
                purpose: purpose,
                period: period,
                retiredAt: uint64(block.timestamp)
            })
        );
        emit CreditRetired(
            retirementId,
            msg.sender,
            id,
            amount,
            serialFirst,
            serialLast,
            beneficiary,
            purpose,
            period
        );
    }

    // --- internals ---------------------------------------------------------------------------

    function _requirePeriod(uint16 vintage, uint32 firstDay, uint32 lastDay) private pure {
        if (firstDay > lastDay) revert PeriodInvalid(firstDay, lastDay);
        int256 year = int256(uint256(vintage));
        if (
            int256(uint256(firstDay)) < _daysFromCivil(year, 1, 1)
                || int256(uint256(lastDay)) >= _daysFromCivil(year + 1, 1, 1)
        ) revert VintageMismatch(vintage, firstDay, lastDay);
    }

    function _requireAnchored(IssueRequest calldata r) private view {
        uint256 periodEnd = (uint256(r.periodLastDay) + 1) * 86_400;
        if (r.checkpoint >= registry.checkpointCount()) {
            revert PeriodNotAnchored(r.checkpoint, 0, periodEnd);
        }
        (uint64 treeSize, bytes32 root, uint64 closesAt,,,) = registry.getCheckpoint(r.checkpoint);
        if (closesAt < periodEnd) revert PeriodNotAnchored(r.checkpoint, closesAt, periodEnd);
        bool included = registry.verifyInclusion(
            r.approvalLeafHash, r.approvalLeafIndex, treeSize, r.approvalProof, root
        );
        if (!included) revert ApprovalNotAnchored(r.checkpoint, r.approvalLeafHash);
    }

    function _emitIssued(uint256 issuanceId, uint256 tokenId) private {
        Issuance storage i = _issuances[issuanceId];
        emit CreditIssued(
            issuanceId,
            tokenId,
            i.projectId,
            i.vintage,
            i.to,
            i.amount,
            i.serialFirst,
            i.serialLast,
            i.periodFirstDay,
            i.periodLastDay,
            i.checkpoint,
            i.reportHash,
            i.approvalLeafHash
        );
    }

    /// @dev Days from 1970-01-01 to the proleptic Gregorian date (year, month, day): Howard
    /// Hinnant's days_from_civil (http://howardhinnant.github.io/date_algorithms.html), exact
    /// for every year. Negative before 1970.
    function _daysFromCivil(int256 year, uint256 month, uint256 day)
        private
        pure
        returns (int256)
    {
        int256 y = month <= 2 ? year - 1 : year;
        int256 era = (y >= 0 ? y : y - 399) / 400;
        int256 yoe = y - era * 400; // [0, 399]
        int256 doy = int256((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1);
        int256 doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
        return era * 146_097 + doe - 719_468;
    }
}
