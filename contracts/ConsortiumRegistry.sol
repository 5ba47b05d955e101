// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Multicall} from "@openzeppelin/contracts/utils/Multicall.sol";
import {Attestations} from "./Attestations.sol";
import {IConsortiumRegistry} from "./interfaces/IConsortiumRegistry.sol";

/// @title Consortium registry
/// @notice Organizations, their roles, provinces and signing keys.
contract ConsortiumRegistry is IConsortiumRegistry, Attestations, Multicall {
    bytes32 private constant ONBOARDING_TYPEHASH = keccak256(
        "Onboarding(uint32 regulatorId,uint256 nonce,uint8 role,uint32 region,bytes32 licenceHash,address signingKey,string name)"
    );
    bytes32 private constant SUSPENSION_TYPEHASH =
        keccak256("Suspension(uint32 regulatorId,uint256 nonce,uint32 organizationId,bytes32 reasonHash)");
    bytes32 private constant REINSTATEMENT_TYPEHASH =
        keccak256("Reinstatement(uint32 regulatorId,uint256 nonce,uint32 organizationId,bytes32 reasonHash)");
    bytes32 private constant LICENCE_RECORD_TYPEHASH = keccak256(
        "LicenceRecord(uint32 regulatorId,uint256 nonce,uint32 organizationId,bytes32 licenceHash,uint40 validUntil)"
    );
    bytes32 private constant KEY_ADDITION_TYPEHASH =
        keccak256("SigningKeyAddition(uint32 organizationId,uint256 nonce,address signingKey)");
    bytes32 private constant KEY_REVOCATION_TYPEHASH =
        keccak256("SigningKeyRevocation(uint32 organizationId,uint256 nonce,address signingKey)");

    struct SigningKey {
        uint32 organizationId;
        bool revoked;
    }

    uint32 private _organizationCount;
    mapping(uint32 organizationId => Organization) private _organizations;
    mapping(address key => SigningKey) private _signingKeys;

    /// @param firstRegulator The regulator the deployer bootstraps; every later organization is onboarded by a
    /// regulator's signed attestation. Its `regulatorId` and `nonce` are ignored.
    constructor(Onboarding memory firstRegulator) Attestations("ConsortiumRegistry") {
        if (firstRegulator.role != Role.Regulator) revert InvalidRole();
        uint32 organizationId = _admit(firstRegulator);
        emit OrganizationOnboarded(organizationId, 0, Role.Regulator, firstRegulator, address(0), "");
    }

    /// @inheritdoc IConsortiumRegistry
    function onboardOrganization(Onboarding calldata onboarding, bytes calldata signature)
        external
        returns (uint32 organizationId)
    {
        address signer = _attestAs(
            Role.Regulator, _hashOnboarding(onboarding), onboarding.regulatorId, onboarding.nonce, signature
        );
        if (onboarding.role == Role.None) revert InvalidRole();
        organizationId = _admit(onboarding);
        emit OrganizationOnboarded(
            organizationId, onboarding.regulatorId, onboarding.role, onboarding, signer, signature
        );
    }

    /// @inheritdoc IConsortiumRegistry
    function suspendOrganization(StatusChange calldata change, bytes calldata signature) external {
        address signer = _attestStatusChange(SUSPENSION_TYPEHASH, change, signature);
        Organization storage org = _existing(change.organizationId);
        if (org.status == OrganizationStatus.Suspended) revert SuspendedOrganization(change.organizationId);
        org.status = OrganizationStatus.Suspended;
        emit OrganizationSuspended(change.organizationId, change.regulatorId, change, signer, signature);
    }

    /// @inheritdoc IConsortiumRegistry
    function reinstateOrganization(StatusChange calldata change, bytes calldata signature) external {
        address signer = _attestStatusChange(REINSTATEMENT_TYPEHASH, change, signature);
        Organization storage org = _existing(change.organizationId);
        if (org.status != OrganizationStatus.Suspended) revert OrganizationNotSuspended(change.organizationId);
        org.status = OrganizationStatus.Active;
        emit OrganizationReinstated(change.organizationId, change.regulatorId, change, signer, signature);
    }

    /// @inheritdoc IConsortiumRegistry
    function recordLicence(LicenceRecord calldata record, bytes calldata signature) external {
        bytes32 structHash = keccak256(
            abi.encode(
                LICENCE_RECORD_TYPEHASH,
                record.regulatorId,
                record.nonce,
                record.organizationId,
                record.licenceHash,
                record.validUntil
            )
        );
        address signer = _attestAs(Role.Regulator, structHash, record.regulatorId, record.nonce, signature);
        Organization storage org = _existing(record.organizationId);
        if (provinceOf(record.regulatorId) != _province(org.region)) {
            revert NotProvinceRegulator(record.regulatorId, record.organizationId);
        }
        if (record.validUntil <= block.timestamp) revert InvalidLicenceExpiry(record.validUntil);
        org.licenceHash = record.licenceHash;
        org.licenceValidUntil = record.validUntil;
        emit LicenceRecorded(record.organizationId, record.regulatorId, record, signer, signature);
    }

    /// @inheritdoc IConsortiumRegistry
    function addSigningKey(KeyChange calldata change, bytes calldata signature) external {
        address signer = _attestKeyChange(KEY_ADDITION_TYPEHASH, change, signature);
        _registerKey(change.organizationId, change.signingKey);
        emit SigningKeyAdded(change.organizationId, change.signingKey, change, signer, signature);
    }

    /// @inheritdoc IConsortiumRegistry
    function revokeSigningKey(KeyChange calldata change, bytes calldata signature) external {
        address signer = _attestKeyChange(KEY_REVOCATION_TYPEHASH, change, signature);
        SigningKey storage key = _signingKeys[change.signingKey];
        if (key.organizationId != change.organizationId) {
            revert SignerNotOfOrganization(change.signingKey, change.organizationId);
        }
        if (key.revoked) revert RevokedSigningKey(change.signingKey);
        Organization storage org = _organizations[change.organizationId];
        if (org.activeKeys == 1) revert LastSigningKey(change.organizationId, change.signingKey);
        key.revoked = true;
        org.activeKeys -= 1;
        emit SigningKeyRevoked(change.organizationId, change.signingKey, change, signer, signature);
    }

    /// @inheritdoc IConsortiumRegistry
    function attesterRole(address signer, uint32 organizationId) external view returns (Role) {
        return _attesterRole(signer, organizationId);
    }

    /// @inheritdoc IConsortiumRegistry
    function activeRole(uint32 organizationId) public view returns (Role) {
        Organization storage org = _existing(organizationId);
        if (org.status != OrganizationStatus.Active) revert SuspendedOrganization(organizationId);
        return org.role;
    }

    /// @inheritdoc IConsortiumRegistry
    function organization(uint32 organizationId) external view returns (Organization memory) {
        return _organizations[organizationId];
    }

    /// @inheritdoc IConsortiumRegistry
    function signingKey(address key) external view returns (uint32 organizationId, bool revoked) {
        SigningKey memory registered = _signingKeys[key];
        return (registered.organizationId, registered.revoked);
    }

    /// @inheritdoc IConsortiumRegistry
    function organizationCount() external view returns (uint32) {
        return _organizationCount;
    }

    /// @inheritdoc IConsortiumRegistry
    function provinceOf(uint32 organizationId) public view returns (uint32) {
        return _province(_existing(organizationId).region);
    }

    /// @dev Every attestation of every contract passes here, so an expired licence stops them all at once.
    function _attesterRole(address signer, uint32 organizationId) internal view override returns (Role) {
        SigningKey memory key = _signingKeys[signer];
        if (key.organizationId == 0) revert UnknownSigningKey(signer);
        if (key.organizationId != organizationId) revert SignerNotOfOrganization(signer, organizationId);
        if (key.revoked) revert RevokedSigningKey(signer);
        Role role = activeRole(organizationId);
        uint40 validUntil = _organizations[organizationId].licenceValidUntil;
        if (validUntil != 0 && block.timestamp >= validUntil) revert LicenceExpired(organizationId, validUntil);
        return role;
    }

    /// @dev GB/T 2260: a region's first two digits are its province.
    function _province(uint32 region) private pure returns (uint32) {
        return region / 10_000 * 10_000;
    }

    function _attestStatusChange(bytes32 typehash, StatusChange calldata change, bytes calldata signature)
        private
        returns (address signer)
    {
        bytes32 structHash = keccak256(
            abi.encode(typehash, change.regulatorId, change.nonce, change.organizationId, change.reasonHash)
        );
        return _attestAs(Role.Regulator, structHash, change.regulatorId, change.nonce, signature);
    }

    function _attestKeyChange(bytes32 typehash, KeyChange calldata change, bytes calldata signature)
        private
        returns (address signer)
    {
        bytes32 structHash = keccak256(abi.encode(typehash, change.organizationId, change.nonce, change.signingKey));
        (, signer) = _attest(structHash, change.organizationId, change.nonce, signature);
    }

    function _admit(Onboarding memory onboarding) private returns (uint32 organizationId) {
        organizationId = ++_organizationCount;
        _organizations[organizationId] = Organization({
            role: onboarding.role,
            status: OrganizationStatus.Active,
            region: onboarding.region,
            activeKeys: 0,
            licenceValidUntil: 0,
            licenceHash: onboarding.licenceHash
        });
        _registerKey(organizationId, onboarding.signingKey);
    }

    /// @dev A key is bound to one organization forever, so an old signature can never be re-attributed.
    function _registerKey(uint32 organizationId, address key) private {
        if (key == address(0)) revert InvalidSigningKey();
        if (_signingKeys[key].organizationId != 0) revert SigningKeyAlreadyRegistered(key);
        _signingKeys[key] = SigningKey({organizationId: organizationId, revoked: false});
        _organizations[organizationId].activeKeys += 1;
    }

    function _existing(uint32 organizationId) private view returns (Organization storage org) {
        org = _organizations[organizationId];
        if (org.status == OrganizationStatus.None) revert UnknownOrganization(organizationId);
    }

    function _hashOnboarding(Onboarding calldata onboarding) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                ONBOARDING_TYPEHASH,
                onboarding.regulatorId,
                onboarding.nonce,
                onboarding.role,
                onboarding.region,
                onboarding.licenceHash,
                onboarding.signingKey,
                keccak256(bytes(onboarding.name))
            )
        );
    }
}
