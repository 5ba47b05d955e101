// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IAttestations} from "./interfaces/IAttestations.sol";
import {IConsortiumRegistry} from "./interfaces/IConsortiumRegistry.sol";

/// @title Signed attestations
/// @dev Recovers the signer of an EIP-712 struct, spends the organization's nonce and asks the registry whether
/// the signer may speak for the organization. Nonces are a bitmap per organization (as in Uniswap's Permit2), so
/// several keys and devices of one organization can sign concurrently without coordinating a counter.
abstract contract Attestations is IAttestations, EIP712 {
    mapping(uint32 organizationId => mapping(uint256 word => uint256 bits)) private _usedNonces;

    constructor(string memory name) EIP712(name, "1") {}

    /// @inheritdoc IAttestations
    function isNonceUsed(uint32 organizationId, uint256 nonce) external view returns (bool) {
        return _usedNonces[organizationId][nonce >> 8] & (1 << (nonce & 0xff)) != 0;
    }

    /// @dev Verifies an attestation of `organizationId` and returns its role and signer; reverts on a forged,
    /// replayed, wrong-domain or unauthorised signature.
    function _attest(bytes32 structHash, uint32 organizationId, uint256 nonce, bytes calldata signature)
        internal
        returns (IConsortiumRegistry.Role role, address signer)
    {
        signer = _recoverSigner(structHash, signature);
        _useNonce(organizationId, nonce);
        role = _attesterRole(signer, organizationId);
    }

    /// @dev As {_attest} for an attestation that consumes a single-use record of the ledger's (a receipt consumes
    /// its shipment, whose id never recurs): the record already makes a replay fail, so no nonce is spent.
    function _attestConsuming(bytes32 structHash, uint32 organizationId, bytes calldata signature)
        internal
        view
        returns (address signer)
    {
        signer = _recoverSigner(structHash, signature);
        _attesterRole(signer, organizationId);
    }

    /// @dev As {_attest}, and reverts unless the organization has `required` role.
    function _attestAs(
        IConsortiumRegistry.Role required,
        bytes32 structHash,
        uint32 organizationId,
        uint256 nonce,
        bytes calldata signature
    ) internal returns (address signer) {
        IConsortiumRegistry.Role role;
        (role, signer) = _attest(structHash, organizationId, nonce, signature);
        _checkRole(organizationId, role, required);
    }

    function _recoverSigner(bytes32 structHash, bytes calldata signature) internal view returns (address) {
        return ECDSA.recover(_hashTypedDataV4(structHash), signature);
    }

    function _checkRole(uint32 organizationId, IConsortiumRegistry.Role role, IConsortiumRegistry.Role required)
        internal
        pure
    {
        if (role != required) revert IConsortiumRegistry.OrganizationRoleMismatch(organizationId, role, required);
    }

    /// @dev The role of the organization `signer` speaks for; reverts if it may not.
    function _attesterRole(address signer, uint32 organizationId)
        internal
        view
        virtual
        returns (IConsortiumRegistry.Role);

    function _useNonce(uint32 organizationId, uint256 nonce) private {
        uint256 bit = 1 << (nonce & 0xff);
        uint256 bits = _usedNonces[organizationId][nonce >> 8];
        if (bits & bit != 0) revert AttestationNonceUsed(organizationId, nonce);
        _usedNonces[organizationId][nonce >> 8] = bits | bit;
    }
}
