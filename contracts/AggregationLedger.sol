// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Multicall} from "@openzeppelin/contracts/utils/Multicall.sol";
import {Attestations} from "./Attestations.sol";
import {IAggregationLedger} from "./interfaces/IAggregationLedger.sol";
import {IBatchLedger} from "./interfaces/IBatchLedger.sol";
import {IConsortiumRegistry} from "./interfaces/IConsortiumRegistry.sol";

/// @title Cases and pallets of a batch
/// @dev A contract of its own (BatchLedger is near the size limit): it reads the batch's CMO and holdings through
/// BatchLedger's views and never moves stock. Shipping a case ships its packs' quantity through BatchLedger.
contract AggregationLedger is IAggregationLedger, Attestations, Multicall {
    bytes32 private constant AGGREGATION_COMMITMENT_TYPEHASH = keccak256(
        "AggregationCommitment(uint32 cmoId,uint256 nonce,bytes32 batchId,bytes32 aggregationRoot,uint32 containers,uint64 packs)"
    );
    bytes32 private constant UNPACKING_TYPEHASH =
        keccak256("Unpacking(uint32 organizationId,uint256 nonce,bytes32 batchId,bytes32 containerId,bytes32[] units)");

    IConsortiumRegistry private immutable _registry;
    IBatchLedger private immutable _batches;
    mapping(bytes32 batchId => bytes32 root) private _roots;
    mapping(bytes32 containerId => mapping(bytes32 unit => bool)) private _unpacked;

    constructor(IConsortiumRegistry registry, IBatchLedger batches) Attestations("AggregationLedger") {
        _registry = registry;
        _batches = batches;
    }

    /// @inheritdoc IAggregationLedger
    function commitAggregation(AggregationCommitment calldata commitment, bytes calldata signature) external {
        address signer = _attestAs(
            IConsortiumRegistry.Role.Cmo,
            _hashCommitment(commitment),
            commitment.cmoId,
            commitment.nonce,
            signature
        );
        bytes32 id = commitment.batchId;
        IBatchLedger.Batch memory batch = _batches.batch(id);
        if (batch.state == IBatchLedger.BatchState.None) revert UnknownBatch(id);
        if (batch.cmoId != commitment.cmoId) revert NotBatchCmo(id, commitment.cmoId);
        if (_roots[id] != 0) revert AggregationAlreadyCommitted(id);
        if (commitment.aggregationRoot == 0 || commitment.containers == 0 || commitment.packs == 0) {
            revert EmptyAggregation(id);
        }
        uint64 held = _batches.holding(id, commitment.cmoId).quantity;
        if (commitment.packs > held) revert AggregationExceedsHolding(id, held, commitment.packs);
        _roots[id] = commitment.aggregationRoot;
        emit AggregationCommitted(id, commitment.cmoId, commitment, signer, signature);
    }

    /// @inheritdoc IAggregationLedger
    function unpackUnits(
        Unpacking calldata unpacking,
        bytes32[] calldata proof,
        bool[] calldata proofFlags,
        bytes calldata signature
    ) external {
        (, address signer) =
            _attest(_hashUnpacking(unpacking), unpacking.organizationId, unpacking.nonce, signature);
        bytes32 id = unpacking.batchId;
        bytes32 root = _roots[id];
        if (root == 0) revert AggregationNotCommitted(id);
        _checkHolder(id, unpacking.organizationId);
        uint256 count = unpacking.units.length;
        if (count == 0) revert NoUnits();
        bytes32 container = unpacking.containerId;
        bytes32[] memory leaves = new bytes32[](count);
        for (uint256 i = 0; i < count; ++i) {
            bytes32 unit = unpacking.units[i];
            if (_unpacked[container][unit]) revert UnitAlreadyUnpacked(container, unit);
            _unpacked[container][unit] = true;
            leaves[i] = _leaf(container, unit);
        }
        if (!MerkleProof.multiProofVerifyCalldata(proof, proofFlags, root, leaves)) {
            revert UnitsNotInContainer(id, container);
        }
        emit UnitsUnpacked(id, container, unpacking.organizationId, unpacking, signer, signature);
    }

    /// @inheritdoc IAggregationLedger
    function aggregationRoot(bytes32 batchId) external view returns (bytes32) {
        return _roots[batchId];
    }

    /// @inheritdoc IAggregationLedger
    function isUnitInContainer(bytes32 batchId, bytes32 containerId, bytes32 unit, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        bytes32 root = _roots[batchId];
        return root != 0 && !_unpacked[containerId][unit]
            && MerkleProof.verifyCalldata(proof, root, _leaf(containerId, unit));
    }

    /// @inheritdoc IAggregationLedger
    function isUnpacked(bytes32 containerId, bytes32 unit) external view returns (bool) {
        return _unpacked[containerId][unit];
    }

    function _attesterRole(address signer, uint32 organizationId)
        internal
        view
        override
        returns (IConsortiumRegistry.Role)
    {
        return _registry.attesterRole(signer, organizationId);
    }

    /// @dev Picking happens where the stock is: the unpacker must hold some of the batch.
    function _checkHolder(bytes32 id, uint32 organizationId) private view {
        if (_batches.holding(id, organizationId).quantity == 0) revert NotUnitHolder(id, organizationId);
    }

    /// @dev OpenZeppelin's standard Merkle tree leaf of the pair ["bytes32", "bytes32"].
    function _leaf(bytes32 container, bytes32 unit) private pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(container, unit))));
    }

    function _hashCommitment(AggregationCommitment calldata c) private pure returns (bytes32) {
        return keccak256(
            abi.encode(AGGREGATION_COMMITMENT_TYPEHASH, c.cmoId, c.nonce, c.batchId, c.aggregationRoot, c.containers, c.packs)
        );
    }

    function _hashUnpacking(Unpacking calldata u) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                UNPACKING_TYPEHASH,
                u.organizationId,
                u.nonce,
                u.batchId,
                u.containerId,
                keccak256(abi.encodePacked(u.units))
            )
        );
    }
}
