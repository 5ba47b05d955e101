// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Multicall} from "@openzeppelin/contracts/utils/Multicall.sol";
import {Attestations} from "./Attestations.sol";
import {IBatchLedger} from "./interfaces/IBatchLedger.sol";
import {IConsortiumRegistry} from "./interfaces/IConsortiumRegistry.sol";
import {ISupervisionRecords} from "./interfaces/ISupervisionRecords.sol";

/// @title Supervision records
/// @dev A concern of its own (regulators' records about organizations and batches): BatchLedger is read, never
/// changed, and stays within its size.
contract SupervisionRecords is ISupervisionRecords, Attestations, Multicall {
    bytes32 private constant INSPECTION_TYPEHASH = keccak256(
        "Inspection(uint32 regulatorId,uint256 nonce,uint32 organizationId,string site,uint8 scope,uint16 criticalFindings,uint16 majorFindings,uint16 minorFindings,uint8 grade,uint40 inspectedAt,bytes32 documentHash)"
    );
    bytes32 private constant INSPECTION_RECOGNITION_TYPEHASH =
        keccak256("InspectionRecognition(uint32 regulatorId,uint256 nonce,bytes32 inspectionId)");
    bytes32 private constant SAMPLING_RESULT_TYPEHASH = keccak256(
        "SamplingResult(uint32 regulatorId,uint256 nonce,bytes32 batchId,uint32 sampledAtId,string test,bool passed,bytes32 reportHash)"
    );

    uint256 private constant MAX_TEXT_LENGTH = 100;

    IConsortiumRegistry private immutable _registry;
    IBatchLedger private immutable _batches;

    mapping(bytes32 inspectionId => uint32 province) private _inspectionProvinces;
    mapping(bytes32 inspectionId => mapping(uint32 province => bool)) private _recognitions;

    constructor(IConsortiumRegistry registry, IBatchLedger batches) Attestations("SupervisionRecords") {
        _registry = registry;
        _batches = batches;
    }

    /// @inheritdoc ISupervisionRecords
    function recordInspection(Inspection calldata inspection, bytes calldata signature)
        external
        returns (bytes32 inspectionId)
    {
        address signer = _attestAs(
            IConsortiumRegistry.Role.Regulator,
            _hashInspection(inspection),
            inspection.regulatorId,
            inspection.nonce,
            signature
        );
        _checkInspected(inspection.organizationId);
        _checkInspection(inspection);
        inspectionId = keccak256(abi.encode(inspection.regulatorId, inspection.nonce));
        uint32 province = _registry.provinceOf(inspection.regulatorId);
        _inspectionProvinces[inspectionId] = province;
        _recognitions[inspectionId][province] = true;
        emit InspectionRecorded(
            inspectionId, inspection.organizationId, inspection.regulatorId, inspection, signer, signature
        );
    }

    /// @inheritdoc ISupervisionRecords
    function recogniseInspection(InspectionRecognition calldata recognition, bytes calldata signature) external {
        bytes32 structHash = keccak256(
            abi.encode(
                INSPECTION_RECOGNITION_TYPEHASH, recognition.regulatorId, recognition.nonce, recognition.inspectionId
            )
        );
        address signer = _attestAs(
            IConsortiumRegistry.Role.Regulator, structHash, recognition.regulatorId, recognition.nonce, signature
        );
        bytes32 inspectionId = recognition.inspectionId;
        uint32 inspectedBy = _inspectionProvinces[inspectionId];
        if (inspectedBy == 0) revert UnknownInspection(inspectionId);
        uint32 province = _registry.provinceOf(recognition.regulatorId);
        if (province == inspectedBy) revert OwnProvinceInspection(inspectionId, province);
        if (_recognitions[inspectionId][province]) revert InspectionAlreadyRecognised(inspectionId, province);
        _recognitions[inspectionId][province] = true;
        emit InspectionRecognised(inspectionId, recognition.regulatorId, province, recognition, signer, signature);
    }

    /// @inheritdoc ISupervisionRecords
    function recordSampling(SamplingResult calldata result, bytes calldata signature)
        external
        returns (bytes32 samplingId)
    {
        bytes32 structHash = keccak256(
            abi.encode(
                SAMPLING_RESULT_TYPEHASH,
                result.regulatorId,
                result.nonce,
                result.batchId,
                result.sampledAtId,
                keccak256(bytes(result.test)),
                result.passed,
                result.reportHash
            )
        );
        address signer =
            _attestAs(IConsortiumRegistry.Role.Regulator, structHash, result.regulatorId, result.nonce, signature);
        if (_batches.batch(result.batchId).state == IBatchLedger.BatchState.None) {
            revert UnknownSampledBatch(result.batchId);
        }
        _registry.provinceOf(result.sampledAtId); // reverts UnknownOrganization
        _checkText(result.test, false);
        samplingId = keccak256(abi.encode(result.regulatorId, result.nonce));
        emit SamplingRecorded(samplingId, result.batchId, result.regulatorId, result, signer, signature);
    }

    /// @inheritdoc ISupervisionRecords
    function inspectionProvince(bytes32 inspectionId) external view returns (uint32) {
        return _inspectionProvinces[inspectionId];
    }

    /// @inheritdoc ISupervisionRecords
    function isInspectionRecognised(bytes32 inspectionId, uint32 province) external view returns (bool) {
        return _recognitions[inspectionId][province];
    }

    function _attesterRole(address signer, uint32 organizationId)
        internal
        view
        override
        returns (IConsortiumRegistry.Role)
    {
        return _registry.attesterRole(signer, organizationId);
    }

    function _checkInspected(uint32 organizationId) private view {
        IConsortiumRegistry.Organization memory org = _registry.organization(organizationId);
        if (org.status == IConsortiumRegistry.OrganizationStatus.None) {
            revert IConsortiumRegistry.UnknownOrganization(organizationId);
        }
        if (org.role == IConsortiumRegistry.Role.Regulator) revert NotSupervisedOrganization(organizationId);
    }

    /// @dev The grade must follow from the findings (China's GMP inspection rules): a critical deficiency makes the
    /// site non-compliant, a major one at best compliant once corrected.
    function _checkInspection(Inspection calldata inspection) private view {
        if (inspection.scope == InspectionScope.None) revert InvalidInspectionScope();
        InspectionGrade grade = inspection.grade;
        if (grade == InspectionGrade.None) revert InvalidInspectionGrade();
        _checkText(inspection.site, true);
        if (inspection.inspectedAt == 0 || inspection.inspectedAt > block.timestamp) {
            revert InvalidInspectionDate(inspection.inspectedAt);
        }
        bool critical = inspection.criticalFindings > 0;
        bool major = inspection.majorFindings > 0;
        if (
            (critical && grade != InspectionGrade.NonCompliant)
                || (major && grade == InspectionGrade.Compliant)
        ) revert InspectionGradeContradictsFindings(grade, inspection.criticalFindings, inspection.majorFindings);
    }

    function _checkText(string calldata text, bool site) private pure {
        uint256 length = bytes(text).length;
        if (length == 0 || length > MAX_TEXT_LENGTH) {
            if (site) revert InvalidInspectionSite(text);
            revert InvalidSamplingTest(text);
        }
    }

    function _hashInspection(Inspection calldata inspection) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                INSPECTION_TYPEHASH,
                inspection.regulatorId,
                inspection.nonce,
                inspection.organizationId,
                keccak256(bytes(inspection.site)),
                inspection.scope,
                inspection.criticalFindings,
                inspection.majorFindings,
                inspection.minorFindings,
                inspection.grade,
                inspection.inspectedAt,
                inspection.documentHash
            )
        );
    }
}
