// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @notice Test-only: exposes OpenZeppelin's MerkleProof so off-chain code trees can be checked against the
///         exact verification the ledger's contracts perform.
contract MerkleProofHarness {
    function verify(bytes32[] calldata proof, bytes32 root, bytes32 leaf) external pure returns (bool) {
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }

    function multiProofVerify(
        bytes32[] calldata proof,
        bool[] calldata proofFlags,
        bytes32 root,
        bytes32[] calldata leaves
    ) external pure returns (bool) {
        return MerkleProof.multiProofVerifyCalldata(proof, proofFlags, root, leaves);
    }

    /// @dev The leaf a contract derives from a canonical key string.
    function leafOf(string calldata canonicalKey) external pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(canonicalKey))));
    }
}
