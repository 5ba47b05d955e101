// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAttestations} from "./IAttestations.sol";

/// @title Consortium registry
/// @notice The organizations allowed to attest, their role, province and signing keys. Regulators onboard,
/// suspend and reinstate organizations; each organization adds and revokes its own keys.
interface IConsortiumRegistry is IAttestations {
    /// @dev DISTRIBUTOR covers wholesale, third-party storage and transport; LABORATORY a contract testing laboratory.
    enum Role {
        None,
        Mah,
        Cmo,
        Distributor,
        Dispenser,
        Regulator,
        Laboratory
    }

    enum OrganizationStatus {
        None,
        Active,
        Suspended
    }

    /// @notice A regulator's attestation that admits an organization to the consortium.
    struct Onboarding {
        uint32 regulatorId;
        uint256 nonce;
        Role role;
        uint32 region;
        bytes32 licenceHash;
        address signingKey;
        string name;
    }

    /// @notice A regulator's attestation that suspends or reinstates an organization.
    struct StatusChange {
        uint32 regulatorId;
        uint256 nonce;
        uint32 organizationId;
        bytes32 reasonHash;
    }

    /// @notice An organization's attestation that adds or revokes one of its own signing keys.
    struct KeyChange {
        uint32 organizationId;
        uint256 nonce;
        address signingKey;
    }

    /// @notice A regulator of the organization's province records its licence (a renewal, or one issued with a
    /// validity) and the last second it is valid: from `validUntil` on, the organization's attestations are refused.
    struct LicenceRecord {
        uint32 regulatorId;
        uint256 nonce;
        uint32 organizationId;
        bytes32 licenceHash;
        uint40 validUntil;
    }

    /// @dev `licenceValidUntil` 0: no expiry recorded (a licence onboarded without one).
    struct Organization {
        Role role;
        OrganizationStatus status;
        uint32 region;
        uint16 activeKeys;
        uint40 licenceValidUntil;
        bytes32 licenceHash;
    }

    /// @notice An organization joined. The first regulator is bootstrapped by the deployer: its
    /// `onboarding.regulatorId` is 0 and `signer` and `signature` are empty.
    event OrganizationOnboarded(
        uint32 indexed organizationId,
        uint32 indexed regulatorId,
        Role role,
        Onboarding onboarding,
        address signer,
        bytes signature
    );
    event OrganizationSuspended(
        uint32 indexed organizationId,
        uint32 indexed regulatorId,
        StatusChange change,
        address signer,
        bytes signature
    );
    event OrganizationReinstated(
        uint32 indexed organizationId,
        uint32 indexed regulatorId,
        StatusChange change,
        address signer,
        bytes signature
    );
    event SigningKeyAdded(
        uint32 indexed organizationId,
        address indexed signingKey,
        KeyChange change,
        address signer,
        bytes signature
    );
    event SigningKeyRevoked(
        uint32 indexed organizationId,
        address indexed signingKey,
        KeyChange change,
        address signer,
        bytes signature
    );

    event LicenceRecorded(
        uint32 indexed organizationId,
        uint32 indexed regulatorId,
        LicenceRecord record,
        address signer,
        bytes signature
    );

    /// @notice The key was never registered (or the signature is forged and recovers to a stranger).
    error UnknownSigningKey(address signer);
    /// @notice The key was revoked by its organization.
    error RevokedSigningKey(address signer);
    /// @notice The key belongs to another organization than the one the attestation names.
    error SignerNotOfOrganization(address signer, uint32 organizationId);
    error UnknownOrganization(uint32 organizationId);
    error SuspendedOrganization(uint32 organizationId);
    error OrganizationNotSuspended(uint32 organizationId);
    /// @notice The organization's role does not allow this attestation.
    error OrganizationRoleMismatch(uint32 organizationId, Role role, Role required);
    error SigningKeyAlreadyRegistered(address signingKey);
    error InvalidSigningKey();
    error InvalidRole();
    /// @notice The organization's licence expired at `validUntil`: it may not attest until a regulator renews it.
    error LicenceExpired(uint32 organizationId, uint40 validUntil);
    /// @notice Only a regulator of the organization's own province may do this (licensing is provincial).
    error NotProvinceRegulator(uint32 regulatorId, uint32 organizationId);
    /// @notice A licence's validity must end in the future.
    error InvalidLicenceExpiry(uint40 validUntil);
    /// @notice Revoking this key would leave the organization unable to attest.
    error LastSigningKey(uint32 organizationId, address signingKey);

    /// @notice Admits an organization with its first signing key; signed by an active regulator.
    /// @return organizationId The new organization's id.
    function onboardOrganization(Onboarding calldata onboarding, bytes calldata signature)
        external
        returns (uint32 organizationId);

    /// @notice Suspends an active organization: its attestations are rejected until reinstated.
    function suspendOrganization(StatusChange calldata change, bytes calldata signature) external;

    /// @notice Reinstates a suspended organization.
    function reinstateOrganization(StatusChange calldata change, bytes calldata signature) external;

    /// @notice Records an organization's licence and its expiry; signed by a regulator of the organization's province.
    function recordLicence(LicenceRecord calldata record, bytes calldata signature) external;

    /// @notice Adds a signing key to the organization; signed by one of its current keys.
    function addSigningKey(KeyChange calldata change, bytes calldata signature) external;

    /// @notice Revokes one of the organization's keys; signed by any of its current keys (including that one).
    function revokeSigningKey(KeyChange calldata change, bytes calldata signature) external;

    /// @notice The role of `organizationId` if `signer` is one of its active keys, it is active and its licence has not
    /// expired; reverts otherwise.
    function attesterRole(address signer, uint32 organizationId) external view returns (Role);

    /// @notice The role of `organizationId` if it is active; reverts otherwise.
    function activeRole(uint32 organizationId) external view returns (Role);

    function organization(uint32 organizationId) external view returns (Organization memory);

    /// @notice The organization a key was registered to (0 if never) and whether it is revoked.
    function signingKey(address key) external view returns (uint32 organizationId, bool revoked);

    function organizationCount() external view returns (uint32);

    /// @notice The province (GB/T 2260 code, e.g. 320000 for Jiangsu) of an onboarded organization; reverts if unknown.
    function provinceOf(uint32 organizationId) external view returns (uint32);
}
