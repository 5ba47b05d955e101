// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Multicall} from "@openzeppelin/contracts/utils/Multicall.sol";
import {Attestations} from "./Attestations.sol";
import {IAlertCases} from "./interfaces/IAlertCases.sol";
import {IBatchLedger} from "./interfaces/IBatchLedger.sol";
import {IConsortiumRegistry} from "./interfaces/IConsortiumRegistry.sol";

/// @title Alert cases and suspect-product reports
/// @dev A contract of its own: supervision is a concern apart from custody, and BatchLedger is near the size limit.
/// It reads the batch ledger (batches, holdings, pack locks) and never writes to it: a reported pack is locked there
/// by the reporter's own `changePackStates` first.
contract AlertCases is IAlertCases, Attestations, Multicall {
    bytes32 private constant ALERT_TAKING_TYPEHASH =
        keccak256("AlertTaking(uint32 organizationId,uint256 nonce,bytes32 alertKey,uint32 subjectId)");
    bytes32 private constant ALERT_STATUS_CHANGE_TYPEHASH = keccak256(
        "AlertStatusChange(uint32 organizationId,uint256 nonce,bytes32 alertKey,uint8 status,bytes32 reasonHash)"
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
        AlertCase storage subject = _cases[taking.alertKey];
        uint32 previousOwner = subject.ownerId;
        if (previousOwner == 0) {
            subject.subjectId = taking.subjectId;
        } else {
            if (subject.subjectId != taking.subjectId) {
                revert AlertSubjectMismatch(taking.alertKey, subject.subjectId, taking.subjectId);
            }
            if (subject.status == CaseStatus.Closed) revert AlertCaseClosed(taking.alertKey);
            if (previousOwner == taking.organizationId || !regulator) revert AlertAlreadyOwned(taking.alertKey, previousOwner);
        }
        subject.ownerId = taking.organizationId;
        emit AlertTaken(taking.alertKey, taking.organizationId, previousOwner, taking, signer, signature);
    }

    /// @inheritdoc IAlertCases
    function changeAlertStatus(AlertStatusChange calldata change, bytes calldata signature) external {
        (IConsortiumRegistry.Role role, address signer) = _attest(
            keccak256(
                abi.encode(
                    ALERT_STATUS_CHANGE_TYPEHASH,
                    change.organizationId,
                    change.nonce,
                    change.alertKey,
                    change.status,
                    change.reasonHash
                )
            ),
            change.organizationId,
            change.nonce,
            signature
        );
        AlertCase storage subject = _cases[change.alertKey];
        if (subject.ownerId != change.organizationId) {
            revert NotAlertOwner(change.alertKey, subject.ownerId, change.organizationId);
        }
        CaseStatus previous = subject.status;
        _checkTransition(change, previous, role);
        subject.status = change.status;
        emit AlertStatusChanged(change.alertKey, change.organizationId, previous, change, signer, signature);
    }

    /// @dev Any status but New and the current one, until Closed; closing needs a reason, and a regulator if the
    /// case was escalated.
    function _checkTransition(AlertStatusChange calldata change, CaseStatus previous, IConsortiumRegistry.Role role)
        private
        pure
    {
        if (previous == CaseStatus.Closed) revert AlertCaseClosed(change.alertKey);
        if (change.status == CaseStatus.New || change.status == previous) {
            revert InvalidAlertTransition(change.alertKey, previous, change.status);
        }
        if (change.status == CaseStatus.Closed) {
            if (change.reasonHash == bytes32(0)) revert MissingCaseReason();
            if (previous == CaseStatus.Escalated && role != IConsortiumRegistry.Role.Regulator) {
                revert EscalatedCaseNeedsRegulator(change.alertKey);
            }
        }
    }

    // ----- suspect-product reports -----

    /// @inheritdoc IAlertCases
    function fileSuspectReport(SuspectReport calldata report, bytes calldata signature) external returns (bytes32 reportId) {
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
        for (uint256 i = 0; i < report.packs.length; ++i) {
            if (_batches.packRecord(report.packs[i]).state != IBatchLedger.PackState.Locked) {
                revert SuspectPackNotLocked(report.packs[i]);
            }
        }
        reportId = suspectReportId(report.organizationId, report.nonce);
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

    // ----- views -----

    /// @inheritdoc IAlertCases
    function alertCase(bytes32 alertKey) external view returns (AlertCase memory) {
        return _cases[alertKey];
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
