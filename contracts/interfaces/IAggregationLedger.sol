// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAttestations} from "./IAttestations.sol";

/// @title Aggregation ledger: packs in cases, cases on pallets (SSCC, GS1 AI 00)
/// @notice The batch's CMO commits, once per batch, which unit is directly inside which container, as the root of an
/// OpenZeppelin standard Merkle tree whose leaves are (containerId, unitId) pairs; ids are keccak256(abi.encode(code))
/// of canonical codes ("(00)SSCC" for a case or pallet, the pack's key for a pack). A holder of the batch's stock
/// takes units out of a container (disaggregation at picking): from then on the unit is no longer inside it.
interface IAggregationLedger is IAttestations {
    /// @notice The CMO's commitment of a batch's aggregation: `containers` cases and pallets holding `packs` packs.
    struct AggregationCommitment {
        uint32 cmoId;
        uint256 nonce;
        bytes32 batchId;
        bytes32 aggregationRoot;
        uint32 containers;
        uint64 packs;
    }

    /// @notice A holder of the batch takes units (packs, or cases from a pallet) out of a container, each named by its
    /// id, proven against the batch's aggregation root as directly inside `containerId`.
    struct Unpacking {
        uint32 organizationId;
        uint256 nonce;
        bytes32 batchId;
        bytes32 containerId;
        bytes32[] units;
    }

    event AggregationCommitted(
        bytes32 indexed batchId, uint32 indexed cmoId, AggregationCommitment commitment, address signer, bytes signature
    );
    event UnitsUnpacked(
        bytes32 indexed batchId,
        bytes32 indexed containerId,
        uint32 indexed organizationId,
        Unpacking unpacking,
        address signer,
        bytes signature
    );

    /// @notice The batch is not on the ledger.
    error UnknownBatch(bytes32 batchId);
    /// @notice Only the batch's CMO, who packed it, commits its aggregation.
    error NotBatchCmo(bytes32 batchId, uint32 organizationId);
    /// @notice A batch's aggregation is committed once; later changes are unpackings.
    error AggregationAlreadyCommitted(bytes32 batchId);
    /// @notice The commitment names no root, no container or no pack.
    error EmptyAggregation(bytes32 batchId);
    /// @notice The aggregation counts more packs than the CMO holds of the batch.
    error AggregationExceedsHolding(bytes32 batchId, uint64 held, uint64 packs);
    /// @notice The batch's aggregation was never committed: there is nothing to unpack.
    error AggregationNotCommitted(bytes32 batchId);
    /// @notice Only an organization holding stock of the batch unpacks its containers.
    error NotUnitHolder(bytes32 batchId, uint32 organizationId);
    error NoUnits();
    /// @notice The multiproof does not show every unit directly inside the container in the batch's aggregation.
    error UnitsNotInContainer(bytes32 batchId, bytes32 containerId);
    /// @notice The unit was already taken out of the container.
    error UnitAlreadyUnpacked(bytes32 containerId, bytes32 unit);

    /// @notice The batch's CMO commits which unit is inside which container; only once, for no more packs than it holds.
    function commitAggregation(AggregationCommitment calldata commitment, bytes calldata signature) external;

    /// @notice A holder of the batch takes units out of a container, each once.
    /// @param proof,proofFlags An OpenZeppelin multiproof of the (containerId, unit) leaves against the batch's
    /// aggregation root, with `unpacking.units` in the multiproof's leaf order.
    function unpackUnits(
        Unpacking calldata unpacking,
        bytes32[] calldata proof,
        bool[] calldata proofFlags,
        bytes calldata signature
    ) external;

    /// @notice The batch's committed aggregation root (zero if none).
    function aggregationRoot(bytes32 batchId) external view returns (bytes32);

    /// @notice Whether `unit` is inside `containerId` in the batch's aggregation and was not taken out of it.
    function isUnitInContainer(bytes32 batchId, bytes32 containerId, bytes32 unit, bytes32[] calldata proof)
        external
        view
        returns (bool);

    /// @notice Whether `unit` was taken out of `containerId`.
    function isUnpacked(bytes32 containerId, bytes32 unit) external view returns (bool);
}
