// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Multicall} from "@openzeppelin/contracts/utils/Multicall.sol";
import {Attestations} from "./Attestations.sol";
import {IAlertCases} from "./interfaces/IAlertCases.sol";
import {IBatchLedger} from "./interfaces/IBatchLedger.sol";
import {IConsortiumRegistry} from "./interfaces/IConsortiumRegistry.sol";

/// @title Alert cases and suspect-product reports
/// @dev A contract of its own: supervision is a concern apart from custody, and BatchLedger is near the size limit.
/// It reads the batch ledger (batches, holdings, pack locks, codes roots) and never writes to it: a reported pack is
/// locked there by a holder's own `changePackStates` first; the batch ledger then asks {holdsPackLock} before it lets
/// the locker undo the lock.
contract AlertCases is IAlertCases, Attestations, Multicall {
    bytes32 private constant ALERT_TAKING_TYPEHASH =
        keccak256("AlertTaking(uint32 organizationId,uint256 nonce,bytes32 alertKey,uint32 subjectId)");
    bytes32 private constant ALERT_STATUS_CHANGE_TYPEHASH = keccak256(
        "AlertStatusChange(uint32 organizationId,uint256 nonce,bytes32 caseKey,uint8 status,bytes32 reasonHash)"
    );
    bytes32 private constant SUSPECT_REPORT_TYPEHASH = keccak256(
        "SuspectReport(uint32 organizationId,uint256 nonce,bytes32 batchId,bytes32[] packs,bytes32 reasonHash)"
    );
    bytes32 private constant SUSPECT_TERMINATION_TYPEHASH = keccak256(
        "SuspectTermination(uint32 regulatorId,uint256 nonce,bytes32 reportId,uint8 outcome,bytes32 reasonHash)"
    );

    IConsortiumRegistry private immutable _registry;
    IBatchLedger private immutable _batches;
    mapping(bytes32 alertKey => AlertCase) private _cases;
    mapping(bytes32 reportId => SuspectCase) private _reports;
    /// @dev The last report that named each pack: it holds the pack's lock while open (or if it found it illegitimate).
    mapping(bytes32 pack => bytes32 reportId) private _packReports;

    constructor(IConsortiumRegistry registry, IBatchLedger batches) Attestations("AlertCases") {
        _registry = registry;
        _batches = batches;
    }

    // ----- alert cases -----

    /// @inheritdoc IAlertCases
    function takeAlert(AlertTaking calldata taking, bytes calldata signature) external {
        (IConsortiumRegistry.Role role, address signer) = _attest(
            keccak256(abi.encode(ALERT_TAKING_TYPEHASH, taking.organizationId, taking.nonce, taking.alertKey, taking.subjectId)),
            taking.organizationId,
            taking.nonce,
            signature
        );
        if (taking.alertKey == bytes32(0)) revert EmptyAlertKey();
        bool regulator = role == IConsortiumRegistry.Role.Regulator;
        if (!regulator && taking.organizationId != taking.subjectId) revert NotAlertParty(taking.alertKey, taking.organizationId);
        bytes32 caseKey = caseKeyOf(taking.alertKey, taking.subjectId);
        AlertCase storage subject = _cases[caseKey];
        uint32 previousOwner = subject.ownerId;
        if (previousOwner == 0) {
            subject.subjectId = taking.subjectId;
        } else {
            if (subject.status == CaseStatus.Closed) revert AlertCaseClosed(caseKey);
            if (previousOwner == taking.organizationId || !regulator) revert AlertAlreadyOwned(caseKey, previousOwner);
        }
        subject.ownerId = taking.organizationId;
        emit AlertTaken(caseKey, taking.organizationId, previousOwner, taking, signer, signature);
    }

    /// @inheritdoc IAlertCases
    function changeAlertStatus(AlertStatusChange calldata change, bytes calldata signature) external {
        (IConsortiumRegistry.Role role, address signer) = _attest(
            keccak256(
                abi.encode(
                    ALERT_STATUS_CHANGE_TYPEHASH,
                    change.organizationId,
                    change.nonce,
                    change.caseKey,
                    change.status,
                    change.reasonHash
                )
            ),
            change.organizationId,
            change.nonce,
            signature
        );
        AlertCase storage subject = _cases[change.caseKey];
        if (subject.ownerId != change.organizationId) {
            revert NotAlertOwner(change.caseKey, subject.ownerId, change.organizationId);
        }
        CaseStatus previous = subject.status;
        _checkTransition(change, previous, role);
        subject.status = change.status;
        emit AlertStatusChanged(change.caseKey, change.organizationId, previous, change, signer, signature);
    }

    /// @dev Any status but New and the current one, until Closed; closing needs a reason, and a regulator if the
    /// case was escalated.
    function _checkTransition(AlertStatusChange calldata change, CaseStatus previous, IConsortiumRegistry.Role role)
        private
        pure
    {
        if (previous == CaseStatus.Closed) revert AlertCaseClosed(change.caseKey);
        if (change.status == CaseStatus.New || change.status == previous) {
            revert InvalidAlertTransition(change.caseKey, previous, change.status);
        }
        if (change.status == CaseStatus.Closed) {
            if (change.reasonHash == bytes32(0)) revert MissingCaseReason();
            if (previous == CaseStatus.Escalated && role != IConsortiumRegistry.Role.Regulator) {
                revert EscalatedCaseNeedsRegulator(change.caseKey);
            }
        }
    }

    // ----- suspect-product reports -----

    /// @inheritdoc IAlertCases
    function fileSuspectReport(
        SuspectReport calldata report,
        bytes32[] calldata proof,
        bool[] calldata proofFlags,
        bytes calldata signature
    ) external returns (bytes32 reportId) {
        (IConsortiumRegistry.Role role, address signer) = _attest(
            keccak256(
                abi.encode(
                    SUSPECT_REPORT_TYPEHASH,
                    report.organizationId,
                    report.nonce,
                    report.batchId,
                    keccak256(abi.encodePacked(report.packs)),
                    report.reasonHash
                )
            ),
            report.organizationId,
            report.nonce,
            signature
        );
        if (report.reasonHash == bytes32(0)) revert MissingCaseReason();
        _checkReporter(report.batchId, report.organizationId, role);
        _checkPacksOfBatch(report.batchId, report.packs, proof, proofFlags);
        reportId = suspectReportId(report.organizationId, report.nonce);
        for (uint256 i = 0; i < report.packs.length; ++i) {
            bytes32 pack = report.packs[i];
            if (_batches.packRecord(pack).state != IBatchLedger.PackState.Locked) revert SuspectPackNotLocked(pack);
            if (holdsPackLock(pack)) revert SuspectPackAlreadyReported(pack, _packReports[pack]);
            _packReports[pack] = reportId;
        }
        _reports[reportId] = SuspectCase(report.batchId, report.organizationId, true, SuspectOutcome.None);
        emit SuspectReportFiled(reportId, report.batchId, report.organizationId, report, signer, signature);
    }

    /// @inheritdoc IAlertCases
    function terminateSuspectReport(SuspectTermination calldata termination, bytes calldata signature) external {
        address signer = _attestAs(
            IConsortiumRegistry.Role.Regulator,
            keccak256(
                abi.encode(
                    SUSPECT_TERMINATION_TYPEHASH,
                    termination.regulatorId,
                    termination.nonce,
                    termination.reportId,
                    termination.outcome,
                    termination.reasonHash
                )
            ),
            termination.regulatorId,
            termination.nonce,
            signature
        );
        SuspectCase storage report = _reports[termination.reportId];
        if (!report.open) revert SuspectReportNotOpen(termination.reportId);
        if (termination.outcome == SuspectOutcome.None) revert InvalidSuspectOutcome();
        if (termination.reasonHash == bytes32(0)) revert MissingCaseReason();
        report.open = false;
        report.outcome = termination.outcome;
        emit SuspectReportTerminated(termination.reportId, report.batchId, termination.regulatorId, termination, signer, signature);
    }

    /// @dev A holder of the batch, its MAH or a regulator.
    function _checkReporter(bytes32 batchId, uint32 organizationId, IConsortiumRegistry.Role role) private view {
        IBatchLedger.Batch memory subject = _batches.batch(batchId);
        if (subject.state == IBatchLedger.BatchState.None) revert SuspectBatchUnknown(batchId);
        if (
            role != IConsortiumRegistry.Role.Regulator && organizationId != subject.mahId
                && _batches.holding(batchId, organizationId).quantity == 0
        ) revert NotSuspectReporter(batchId, organizationId);
    }

    /// @dev The packs' leaves as the batch ledger commits them (keccak256(abi.encode(pack))) against the batch's
    /// codes root, so a pack locked under one batch cannot be reported under another.
    function _checkPacksOfBatch(
        bytes32 batchId,
        bytes32[] calldata packs,
        bytes32[] calldata proof,
        bool[] calldata proofFlags
    ) private view {
        if (packs.length == 0) return;
        bytes32[] memory leaves = new bytes32[](packs.length);
        for (uint256 i = 0; i < packs.length; ++i) {
            leaves[i] = keccak256(abi.encode(packs[i]));
        }
        if (!MerkleProof.multiProofVerifyCalldata(proof, proofFlags, _batches.codesRoot(batchId), leaves)) {
            revert SuspectPacksNotInBatch(batchId);
        }
    }

    // ----- views -----

    /// @inheritdoc IAlertCases
    function alertCase(bytes32 caseKey) external view returns (AlertCase memory) {
        return _cases[caseKey];
    }

    /// @inheritdoc IAlertCases
    function caseKeyOf(bytes32 alertKey, uint32 subjectId) public pure returns (bytes32) {
        return keccak256(abi.encode(alertKey, subjectId));
    }

    /// @inheritdoc IAlertCases
    function holdsPackLock(bytes32 pack) public view returns (bool) {
        SuspectCase storage report = _reports[_packReports[pack]];
        return report.open || report.outcome == SuspectOutcome.Illegitimate;
    }

    /// @inheritdoc IAlertCases
    function suspectReport(bytes32 reportId) external view returns (SuspectCase memory) {
        return _reports[reportId];
    }

    /// @inheritdoc IAlertCases
    function suspectReportId(uint32 organizationId, uint256 nonce) public pure returns (bytes32) {
        return keccak256(abi.encode(organizationId, nonce));
    }

    function _attesterRole(address signer, uint32 organizationId)
        internal
        view
        override
        returns (IConsortiumRegistry.Role)
    {
        return _registry.attesterRole(signer, organizationId);
    }
}
