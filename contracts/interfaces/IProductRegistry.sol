// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAttestations} from "./IAttestations.sol";

/// @title Products and agreements
/// @notice MAHs register their products and sign agreements with the organizations that make, store, carry or
/// sell them. Every agreement is on the ledger, and so visible to every regulator, from the moment it is signed.
interface IProductRegistry is IAttestations {
    /// @dev Quality: the commissioning (quality) agreement with a CMO for one product. Storage, Transport, Sales:
    /// outsourced activities with a distributor, for one product or (productId 0) all of the MAH's products.
    /// Testing: outsourced testing with a contract laboratory, for one product or all of them.
    enum AgreementKind {
        None,
        Quality,
        Storage,
        Transport,
        Sales,
        Testing
    }

    /// @notice Who performs the release testing the quality agreement assigns.
    enum ReleaseTester {
        None,
        Cmo,
        Mah,
        ContractLaboratory
    }

    /// @notice Where a quality agreement between an MAH and a CMO of different provinces stands: it takes effect
    /// only once the CMO's provincial regulator has given its opinion and the MAH's has approved it.
    enum CrossProvinceApproval {
        NotRequired,
        AwaitingOpinion,
        AwaitingApproval,
        Approved
    }

    struct ProductRegistration {
        uint32 mahId;
        uint256 nonce;
        string productCode;
        string approvalNumber;
        string name;
    }

    /// @notice Signed by both the MAH and the counterparty over the same EIP-712 message.
    struct Agreement {
        uint32 mahId;
        uint256 nonce;
        AgreementKind kind;
        uint32 counterpartyId;
        bytes32 productId;
        bytes32 documentHash;
        uint40 validFrom;
        uint40 validUntil;
        ReleaseTester releaseTester;
    }

    struct AgreementRevocation {
        uint32 organizationId;
        uint256 nonce;
        bytes32 agreementId;
        bytes32 reasonHash;
    }

    /// @notice A regulator's signed opinion on (CMO's province) or approval of (MAH's province) a cross-province
    /// quality agreement, with the hash of its document.
    struct AgreementReview {
        uint32 regulatorId;
        uint256 nonce;
        bytes32 agreementId;
        bytes32 documentHash;
    }

    struct AgreementTerms {
        AgreementKind kind;
        ReleaseTester releaseTester;
        bool revoked;
        CrossProvinceApproval approval;
        uint32 mahId;
        uint32 counterpartyId;
        uint40 validFrom;
        uint40 validUntil;
        bytes32 productId;
    }

    event ProductRegistered(
        bytes32 indexed productId,
        uint32 indexed mahId,
        ProductRegistration registration,
        address signer,
        bytes signature
    );
    event AgreementSigned(
        bytes32 indexed agreementId,
        uint32 indexed mahId,
        uint32 indexed counterpartyId,
        Agreement agreement,
        address mahSigner,
        bytes mahSignature,
        address counterpartySigner,
        bytes counterpartySignature
    );
    event AgreementRevoked(
        bytes32 indexed agreementId,
        uint32 indexed organizationId,
        AgreementRevocation revocation,
        address signer,
        bytes signature
    );

    event AgreementOpinionGiven(
        bytes32 indexed agreementId,
        uint32 indexed regulatorId,
        AgreementReview review,
        address signer,
        bytes signature
    );
    event AgreementApproved(
        bytes32 indexed agreementId,
        uint32 indexed regulatorId,
        AgreementReview review,
        address signer,
        bytes signature
    );

    /// @notice A product code is a 7-digit NMPA drug identification code or a GTIN-14 with a valid check digit.
    error InvalidProductCode(string productCode);
    error ProductAlreadyRegistered(bytes32 productId);
    error UnknownProduct(bytes32 productId);
    error NotProductMah(bytes32 productId, uint32 organizationId);
    error InvalidAgreementKind();
    error InvalidReleaseTester();
    error InvalidValidityWindow(uint40 validFrom, uint40 validUntil);
    error UnknownAgreement(bytes32 agreementId);
    error AgreementAlreadyRevoked(bytes32 agreementId);
    error NotAgreementParty(bytes32 agreementId, uint32 organizationId);
    /// @notice The agreement is not a quality agreement across provinces: nobody needs to review it.
    error AgreementNeedsNoApproval(bytes32 agreementId);
    /// @notice The CMO's provincial regulator has already given its opinion.
    error AgreementOpinionAlreadyGiven(bytes32 agreementId);
    /// @notice The MAH's provincial regulator approves only after the CMO's has given its opinion.
    error AgreementOpinionMissing(bytes32 agreementId);
    error AgreementAlreadyApproved(bytes32 agreementId);

    /// @notice Registers a product of the signing MAH; its id is keccak256 of the product code.
    function registerProduct(ProductRegistration calldata registration, bytes calldata signature)
        external
        returns (bytes32 productId);

    /// @notice Records an agreement signed by the MAH and its counterparty; its id is
    /// keccak256(abi.encode(mahId, nonce)). A quality agreement with a CMO of another province awaits its review
    /// (giveAgreementOpinion, approveAgreement) before batches may be recorded under it.
    function signAgreement(
        Agreement calldata agreement,
        bytes calldata mahSignature,
        bytes calldata counterpartySignature
    ) external returns (bytes32 agreementId);

    /// @notice The CMO-province regulator's opinion on a cross-province quality agreement; signed by a regulator
    /// of the CMO's province.
    function giveAgreementOpinion(AgreementReview calldata review, bytes calldata signature) external;

    /// @notice The MAH-province regulator's approval, after the opinion: the agreement takes effect. Signed by a
    /// regulator of the MAH's province.
    function approveAgreement(AgreementReview calldata review, bytes calldata signature) external;

    /// @notice Revokes an agreement; signed by either party. Batches can no longer be recorded under it.
    function revokeAgreement(AgreementRevocation calldata revocation, bytes calldata signature) external;

    /// @notice The MAH that registered the product, or 0.
    function productMah(bytes32 productId) external view returns (uint32);

    function agreementTerms(bytes32 agreementId) external view returns (AgreementTerms memory);

    /// @notice The id an agreement signed by `mahId` with `nonce` gets.
    function agreementId(uint32 mahId, uint256 nonce) external pure returns (bytes32);
}
