// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAttestations} from "./IAttestations.sol";

/// @title Alert cases and suspect-product reports
/// @notice The supervisory record shared by every province's regulators: who owns an early-warning alert and the
/// signed status of its investigation; suspect-product reports filed by holders (like the US DSCSA
/// illegitimate-product notification), which end only in a regulator's termination.
interface IAlertCases is IAttestations {
    /// @dev New until its owner starts investigating; Closed (with a reason) is final.
    enum CaseStatus {
        New,
        UnderInvestigation,
        Escalated,
        Closed
    }

    /// @dev None while a report is open; a regulator's termination clears the product or confirms it illegitimate.
    enum SuspectOutcome {
        None,
        Cleared,
        Illegitimate
    }

    /// @dev One storage slot per alert case.
    struct AlertCase {
        uint32 subjectId;
        uint32 ownerId;
        CaseStatus status;
    }

    /// @dev One storage slot per suspect-product report besides its batch.
    struct SuspectCase {
        bytes32 batchId;
        uint32 filedBy;
        bool open;
        SuspectOutcome outcome;
    }

    /// @notice A regulator, or the organization an alert concerns (`subjectId`), takes the alert's case.
    /// `alertKey` is keccak256 of the alert's key, the same on every API server following this chain. The case is
    /// kept under {caseKeyOf}(alertKey, subjectId): a taker naming the wrong subject opens a case no alert points
    /// at, and cannot take over or close the case of the organization the alert concerns.
    struct AlertTaking {
        uint32 organizationId;
        uint256 nonce;
        bytes32 alertKey;
        uint32 subjectId;
    }

    /// @notice The case's owner moves it on; closing needs a reason. `caseKey` is {caseKeyOf} the alert and its subject.
    struct AlertStatusChange {
        uint32 organizationId;
        uint256 nonce;
        bytes32 caseKey;
        CaseStatus status;
        bytes32 reasonHash;
    }

    /// @notice A holder, the batch's MAH or a regulator reports packs (or, with no packs, the whole batch) as
    /// suspect; the packs must already be locked in the batch ledger, and from then on the report holds their locks
    /// (the locker cannot undo them) until a regulator terminates it as cleared.
    struct SuspectReport {
        uint32 organizationId;
        uint256 nonce;
        bytes32 batchId;
        bytes32[] packs;
        bytes32 reasonHash;
    }

    /// @notice A regulator ends a suspect-product report: cleared or illegitimate, with a reason.
    struct SuspectTermination {
        uint32 regulatorId;
        uint256 nonce;
        bytes32 reportId;
        SuspectOutcome outcome;
        bytes32 reasonHash;
    }

    event AlertTaken(
        bytes32 indexed caseKey,
        uint32 indexed organizationId,
        uint32 previousOwnerId,
        AlertTaking taking,
        address signer,
        bytes signature
    );
    event AlertStatusChanged(
        bytes32 indexed caseKey,
        uint32 indexed organizationId,
        CaseStatus previousStatus,
        AlertStatusChange change,
        address signer,
        bytes signature
    );
    event SuspectReportFiled(
        bytes32 indexed reportId,
        bytes32 indexed batchId,
        uint32 indexed organizationId,
        SuspectReport report,
        address signer,
        bytes signature
    );
    event SuspectReportTerminated(
        bytes32 indexed reportId,
        bytes32 indexed batchId,
        uint32 indexed regulatorId,
        SuspectTermination termination,
        address signer,
        bytes signature
    );

    error EmptyAlertKey();
    /// @notice Only a regulator or the organization the alert concerns takes its case.
    error NotAlertParty(bytes32 alertKey, uint32 organizationId);
    /// @notice The case already has this owner, or an organization tries to take a case someone owns (only a
    /// regulator takes a case over).
    error AlertAlreadyOwned(bytes32 caseKey, uint32 ownerId);
    error NotAlertOwner(bytes32 caseKey, uint32 ownerId, uint32 organizationId);
    error AlertCaseClosed(bytes32 caseKey);
    error InvalidAlertTransition(bytes32 caseKey, CaseStatus from, CaseStatus to);
    /// @notice An escalated case is closed by a regulator, who takes it over first.
    error EscalatedCaseNeedsRegulator(bytes32 caseKey);
    /// @notice Closing a case, filing or terminating a report needs the hash of a reason.
    error MissingCaseReason();
    error SuspectBatchUnknown(bytes32 batchId);
    /// @notice Only a holder of the batch, its MAH or a regulator reports it suspect.
    error NotSuspectReporter(bytes32 batchId, uint32 organizationId);
    /// @notice A reported pack must be locked in the batch ledger first (`changePackStates` to Locked).
    error SuspectPackNotLocked(bytes32 pack);
    /// @notice The reported packs must be among the batch's committed codes (a multiproof against its codes root).
    error SuspectPacksNotInBatch(bytes32 batchId);
    /// @notice A pack is under one open report at a time.
    error SuspectPackAlreadyReported(bytes32 pack, bytes32 reportId);
    error SuspectReportNotOpen(bytes32 reportId);
    error InvalidSuspectOutcome();

    /// @notice Takes the case of an alert about `subjectId`: the first taker opens it; a regulator may take it over.
    function takeAlert(AlertTaking calldata taking, bytes calldata signature) external;

    /// @notice The owner changes the case's status (closing needs a reason; an escalated case is closed by a
    /// regulator).
    function changeAlertStatus(AlertStatusChange calldata change, bytes calldata signature) external;

    /// @notice Files a suspect-product report with a multiproof of its packs against the batch's codes root (empty
    /// for a whole-batch report); returns its id, keccak256(organizationId, nonce).
    function fileSuspectReport(
        SuspectReport calldata report,
        bytes32[] calldata proof,
        bool[] calldata proofFlags,
        bytes calldata signature
    ) external returns (bytes32 reportId);

    /// @notice A regulator terminates an open suspect-product report.
    function terminateSuspectReport(SuspectTermination calldata termination, bytes calldata signature) external;

    /// @notice An alert's case by {caseKeyOf} (zero subject when none was opened).
    function alertCase(bytes32 caseKey) external view returns (AlertCase memory);

    /// @notice The key of the case of the alert `alertKey` about `subjectId`: keccak256(abi.encode(alertKey, subjectId)).
    function caseKeyOf(bytes32 alertKey, uint32 subjectId) external pure returns (bytes32);

    /// @notice Whether a suspect-product report holds the pack's lock: the report is open, or was terminated with
    /// the product confirmed illegitimate (the pack stays locked for good).
    function holdsPackLock(bytes32 pack) external view returns (bool);

    /// @notice A suspect-product report (zero batch when none was filed).
    function suspectReport(bytes32 reportId) external view returns (SuspectCase memory);

    /// @notice The id of the report `organizationId` files with `nonce`.
    function suspectReportId(uint32 organizationId, uint256 nonce) external pure returns (bytes32);
}
