// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Multicall} from "@openzeppelin/contracts/utils/Multicall.sol";
import {Attestations} from "./Attestations.sol";
import {IBatchLedger} from "./interfaces/IBatchLedger.sol";
import {IConsortiumRegistry} from "./interfaces/IConsortiumRegistry.sol";
import {ICorrectiveActions} from "./interfaces/ICorrectiveActions.sol";

/// @title Corrective and preventive actions
/// @dev A concern of its own: CAPA follows a deviation but changes nothing BatchLedger's rules check on every step,
/// so it reads the batch and the deviation from BatchLedger and keeps its own records.
contract CorrectiveActions is ICorrectiveActions, Attestations, Multicall {
    bytes32 private constant CAPA_RECORD_TYPEHASH = keccak256(
        "CapaRecord(uint32 organizationId,uint256 nonce,bytes32 batchId,bytes32 reportHash,bytes32 capaHash,uint32 ownerId,uint40 dueAt)"
    );
    bytes32 private constant EFFECTIVENESS_CHECK_TYPEHASH = keccak256(
        "EffectivenessCheck(uint32 mahId,uint256 nonce,bytes32 batchId,bytes32 capaHash,bool effective,bytes32 checkHash)"
    );

    IConsortiumRegistry private immutable _registry;
    IBatchLedger private immutable _batches;

    mapping(bytes32 batchId => mapping(bytes32 capaHash => Capa)) private _capas;

    constructor(IConsortiumRegistry registry, IBatchLedger batches) Attestations("CorrectiveActions") {
        _registry = registry;
        _batches = batches;
    }

    /// @inheritdoc ICorrectiveActions
    function recordCapa(CapaRecord calldata record, bytes calldata signature) external {
        bytes32 structHash = keccak256(
            abi.encode(
                CAPA_RECORD_TYPEHASH,
                record.organizationId,
                record.nonce,
                record.batchId,
                record.reportHash,
                record.capaHash,
                record.ownerId,
                record.dueAt
            )
        );
        (, address signer) = _attest(structHash, record.organizationId, record.nonce, signature);
        IBatchLedger.Batch memory subject = _batches.batch(record.batchId);
        if (subject.state == IBatchLedger.BatchState.None) revert IBatchLedger.UnknownBatch(record.batchId);
        _checkBatchParty(record.batchId, subject, record.organizationId);
        _checkBatchParty(record.batchId, subject, record.ownerId);
        if (_batches.deviationStatus(record.batchId, record.reportHash) == IBatchLedger.DeviationStatus.None) {
            revert UnknownDeviation(record.batchId, record.reportHash);
        }
        if (record.dueAt <= block.timestamp) revert CapaDueDatePassed(record.dueAt);
        Capa storage recorded = _capas[record.batchId][record.capaHash];
        if (recorded.status != CapaStatus.None) revert CapaAlreadyRecorded(record.batchId, record.capaHash);
        recorded.status = CapaStatus.Open;
        recorded.ownerId = record.ownerId;
        recorded.dueAt = record.dueAt;
        emit CapaRecorded(record.batchId, record.organizationId, record.ownerId, record, signer, signature);
    }

    /// @inheritdoc ICorrectiveActions
    function checkCapaEffectiveness(EffectivenessCheck calldata check, bytes calldata signature) external {
        bytes32 structHash = keccak256(
            abi.encode(
                EFFECTIVENESS_CHECK_TYPEHASH, check.mahId, check.nonce, check.batchId, check.capaHash, check.effective, check.checkHash
            )
        );
        (, address signer) = _attest(structHash, check.mahId, check.nonce, signature);
        if (_batches.batch(check.batchId).mahId != check.mahId) revert NotCapaChecker(check.batchId, check.mahId);
        Capa storage checked = _capas[check.batchId][check.capaHash];
        if (checked.status == CapaStatus.None) revert UnknownCapa(check.batchId, check.capaHash);
        if (checked.status != CapaStatus.Open) revert CapaAlreadyChecked(check.batchId, check.capaHash, checked.status);
        checked.status = check.effective ? CapaStatus.Effective : CapaStatus.Ineffective;
        emit CapaEffectivenessChecked(check.batchId, check.mahId, check.capaHash, check, signer, signature);
    }

    /// @inheritdoc ICorrectiveActions
    function capa(bytes32 batchId, bytes32 capaHash) external view returns (Capa memory) {
        return _capas[batchId][capaHash];
    }

    function _attesterRole(address signer, uint32 organizationId)
        internal
        view
        override
        returns (IConsortiumRegistry.Role)
    {
        return _registry.attesterRole(signer, organizationId);
    }

    function _checkBatchParty(bytes32 batchId, IBatchLedger.Batch memory subject, uint32 organizationId) private pure {
        if (organizationId != subject.mahId && organizationId != subject.cmoId) revert NotCapaParty(batchId, organizationId);
    }
}
