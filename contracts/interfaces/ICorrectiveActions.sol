// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAttestations} from "./IAttestations.sol";

/// @title Corrective and preventive actions (CAPA) for deviations
/// @notice A deviation's CAPA is recorded by the batch's MAH or CMO with an owner (one of the two) and a due date;
/// the batch's MAH records whether it proved effective. A failed check leaves the CAPA ineffective for good: the
/// deviation then needs a new CAPA, recorded under its own document hash.
interface ICorrectiveActions is IAttestations {
    enum CapaStatus {
        None,
        Open,
        Effective,
        Ineffective
    }

    /// @dev One storage slot per CAPA.
    struct Capa {
        CapaStatus status;
        uint32 ownerId;
        uint40 dueAt;
    }

    /// @notice A CAPA for a deviation of a batch: the plan's document hash, who owns it and by when it is done.
    struct CapaRecord {
        uint32 organizationId;
        uint256 nonce;
        bytes32 batchId;
        bytes32 reportHash;
        bytes32 capaHash;
        uint32 ownerId;
        uint40 dueAt;
    }

    /// @notice The MAH's effectiveness check of a CAPA: whether it worked, and the check's document hash.
    struct EffectivenessCheck {
        uint32 mahId;
        uint256 nonce;
        bytes32 batchId;
        bytes32 capaHash;
        bool effective;
        bytes32 checkHash;
    }

    event CapaRecorded(
        bytes32 indexed batchId, uint32 indexed organizationId, uint32 indexed ownerId, CapaRecord record, address signer, bytes signature
    );
    event CapaEffectivenessChecked(
        bytes32 indexed batchId, uint32 indexed mahId, bytes32 indexed capaHash, EffectivenessCheck check, address signer, bytes signature
    );

    /// @notice Only the batch's MAH or CMO records a CAPA, and owns one.
    error NotCapaParty(bytes32 batchId, uint32 organizationId);
    /// @notice A CAPA answers a deviation reported on the batch.
    error UnknownDeviation(bytes32 batchId, bytes32 reportHash);
    error CapaAlreadyRecorded(bytes32 batchId, bytes32 capaHash);
    /// @notice A CAPA is due after it is recorded.
    error CapaDueDatePassed(uint40 dueAt);
    error UnknownCapa(bytes32 batchId, bytes32 capaHash);
    /// @notice A CAPA's effectiveness is checked once; a failed one needs a new CAPA.
    error CapaAlreadyChecked(bytes32 batchId, bytes32 capaHash, CapaStatus status);
    /// @notice Only the batch's MAH checks a CAPA's effectiveness.
    error NotCapaChecker(bytes32 batchId, uint32 organizationId);

    /// @notice The batch's MAH or CMO records a CAPA for one of the batch's deviations, owned by the MAH or the CMO,
    /// due in the future.
    function recordCapa(CapaRecord calldata record, bytes calldata signature) external;

    /// @notice The batch's MAH records whether a CAPA proved effective, once.
    function checkCapaEffectiveness(EffectivenessCheck calldata check, bytes calldata signature) external;

    /// @notice A CAPA's status, owner and due date (status None if never recorded).
    function capa(bytes32 batchId, bytes32 capaHash) external view returns (Capa memory);
}
