// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Signed attestations
/// @notice Every write to the ledger is an EIP-712 message signed by a registered key of the acting organization.
/// Anyone may relay it; each carries a nonce of the organization's that can be used once, in any order.
interface IAttestations {
    /// @notice The organization already used this nonce: the attestation is a replay or a duplicate.
    error AttestationNonceUsed(uint32 organizationId, uint256 nonce);

    /// @notice Whether `organizationId` has used `nonce` in this contract's domain.
    function isNonceUsed(uint32 organizationId, uint256 nonce) external view returns (bool);
}
