// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAttestations} from "./IAttestations.sol";

/// @title Supervision records
/// @notice Regulators' inspections of organizations and sampling of batches, shared by every province on the
/// ledger: an inspection one province recorded is recognised by another's regulator with a signature (mutual
/// recognition), so the second province needs no inspection of its own.
interface ISupervisionRecords is IAttestations {
    /// @notice Why the inspection was made.
    enum InspectionScope {
        None,
        Routine,
        ForCause,
        Licensing,
        GmpCompliance,
        FollowUp
    }

    /// @notice The inspection's conclusion: compliant, compliant once the findings are corrected, not compliant.
    enum InspectionGrade {
        None,
        Compliant,
        CompliantWithCorrections,
        NonCompliant
    }

    /// @notice An inspection of an organization's site: its findings counted by severity (critical, major, minor
    /// deficiencies), its grade and the hash of the inspection report.
    struct Inspection {
        uint32 regulatorId;
        uint256 nonce;
        uint32 organizationId;
        string site;
        InspectionScope scope;
        uint16 criticalFindings;
        uint16 majorFindings;
        uint16 minorFindings;
        InspectionGrade grade;
        uint40 inspectedAt;
        bytes32 documentHash;
    }

    /// @notice Another province's regulator accepts an inspection as its own.
    struct InspectionRecognition {
        uint32 regulatorId;
        uint256 nonce;
        bytes32 inspectionId;
    }

    /// @notice A regulator's sampling of a batch at an organization, the test made and whether it passed.
    struct SamplingResult {
        uint32 regulatorId;
        uint256 nonce;
        bytes32 batchId;
        uint32 sampledAtId;
        string test;
        bool passed;
        bytes32 reportHash;
    }

    event InspectionRecorded(
        bytes32 indexed inspectionId,
        uint32 indexed organizationId,
        uint32 indexed regulatorId,
        Inspection inspection,
        address signer,
        bytes signature
    );
    event InspectionRecognised(
        bytes32 indexed inspectionId,
        uint32 indexed regulatorId,
        uint32 province,
        InspectionRecognition recognition,
        address signer,
        bytes signature
    );
    event SamplingRecorded(
        bytes32 indexed samplingId,
        bytes32 indexed batchId,
        uint32 indexed regulatorId,
        SamplingResult result,
        address signer,
        bytes signature
    );

    /// @notice Regulators are not inspected on this ledger.
    error NotSupervisedOrganization(uint32 organizationId);
    error InvalidInspectionScope();
    error InvalidInspectionGrade();
    /// @notice The site must be named (1 to 100 bytes).
    error InvalidInspectionSite(string site);
    /// @notice An inspection is recorded after it took place.
    error InvalidInspectionDate(uint40 inspectedAt);
    /// @notice Compliant allows no critical or major finding, compliant with corrections no critical one.
    error InspectionGradeContradictsFindings(InspectionGrade grade, uint16 criticalFindings, uint16 majorFindings);
    error UnknownInspection(bytes32 inspectionId);
    /// @notice A province does not recognise its own inspection: it made it.
    error OwnProvinceInspection(bytes32 inspectionId, uint32 province);
    error InspectionAlreadyRecognised(bytes32 inspectionId, uint32 province);
    error UnknownSampledBatch(bytes32 batchId);
    /// @notice The test must be named (1 to 100 bytes).
    error InvalidSamplingTest(string test);

    /// @notice Records an inspection; signed by a regulator (of any province: inspections follow the supply
    /// chain). Its id is keccak256(abi.encode(regulatorId, nonce)).
    function recordInspection(Inspection calldata inspection, bytes calldata signature)
        external
        returns (bytes32 inspectionId);

    /// @notice Recognises another province's inspection; signed by a regulator of a province that has not yet.
    function recogniseInspection(InspectionRecognition calldata recognition, bytes calldata signature) external;

    /// @notice Records a sampling result of a recorded batch; signed by a regulator. Its id is
    /// keccak256(abi.encode(regulatorId, nonce)).
    function recordSampling(SamplingResult calldata result, bytes calldata signature)
        external
        returns (bytes32 samplingId);

    /// @notice The province whose regulator made the inspection, or 0 if there is none.
    function inspectionProvince(bytes32 inspectionId) external view returns (uint32);

    /// @notice Whether `province`'s regulators made or recognised the inspection.
    function isInspectionRecognised(bytes32 inspectionId, uint32 province) external view returns (bool);
}
