// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Multicall} from "@openzeppelin/contracts/utils/Multicall.sol";
import {Attestations} from "./Attestations.sol";
import {IConsortiumRegistry} from "./interfaces/IConsortiumRegistry.sol";
import {IProductRegistry} from "./interfaces/IProductRegistry.sol";

/// @title Products and agreements
contract ProductRegistry is IProductRegistry, Attestations, Multicall {
    bytes32 private constant PRODUCT_REGISTRATION_TYPEHASH = keccak256(
        "ProductRegistration(uint32 mahId,uint256 nonce,string productCode,string approvalNumber,string name)"
    );
    bytes32 private constant AGREEMENT_TYPEHASH = keccak256(
        "Agreement(uint32 mahId,uint256 nonce,uint8 kind,uint32 counterpartyId,bytes32 productId,bytes32 documentHash,uint40 validFrom,uint40 validUntil,uint8 releaseTester)"
    );
    bytes32 private constant AGREEMENT_REVOCATION_TYPEHASH =
        keccak256("AgreementRevocation(uint32 organizationId,uint256 nonce,bytes32 agreementId,bytes32 reasonHash)");

    bytes32 private constant AGREEMENT_OPINION_TYPEHASH =
        keccak256("AgreementOpinion(uint32 regulatorId,uint256 nonce,bytes32 agreementId,bytes32 documentHash)");
    bytes32 private constant AGREEMENT_APPROVAL_TYPEHASH =
        keccak256("AgreementApproval(uint32 regulatorId,uint256 nonce,bytes32 agreementId,bytes32 documentHash)");

    IConsortiumRegistry private immutable _registry;
    mapping(bytes32 productId => uint32 mahId) private _productMahs;
    mapping(bytes32 agreementId => AgreementTerms) private _agreements;

    constructor(IConsortiumRegistry registry) Attestations("ProductRegistry") {
        _registry = registry;
    }

    /// @inheritdoc IProductRegistry
    function registerProduct(ProductRegistration calldata registration, bytes calldata signature)
        external
        returns (bytes32 productId)
    {
        address signer = _attestAs(
            IConsortiumRegistry.Role.Mah,
            _hashProductRegistration(registration),
            registration.mahId,
            registration.nonce,
            signature
        );
        _checkProductCode(registration.productCode);
        productId = keccak256(bytes(registration.productCode));
        if (_productMahs[productId] != 0) revert ProductAlreadyRegistered(productId);
        _productMahs[productId] = registration.mahId;
        emit ProductRegistered(productId, registration.mahId, registration, signer, signature);
    }

    /// @inheritdoc IProductRegistry
    function signAgreement(
        Agreement calldata agreement,
        bytes calldata mahSignature,
        bytes calldata counterpartySignature
    ) external returns (bytes32 id) {
        bytes32 structHash = _hashAgreement(agreement);
        address mahSigner = _attestAs(
            IConsortiumRegistry.Role.Mah, structHash, agreement.mahId, agreement.nonce, mahSignature
        );
        address counterpartySigner = _recoverSigner(structHash, counterpartySignature);
        IConsortiumRegistry.Role counterpartyRole = _registry.attesterRole(counterpartySigner, agreement.counterpartyId);
        _checkTerms(agreement, counterpartyRole);
        id = agreementId(agreement.mahId, agreement.nonce);
        _agreements[id] = AgreementTerms({
            kind: agreement.kind,
            releaseTester: agreement.releaseTester,
            revoked: false,
            approval: _approvalNeeded(agreement),
            mahId: agreement.mahId,
            counterpartyId: agreement.counterpartyId,
            validFrom: agreement.validFrom,
            validUntil: agreement.validUntil,
            productId: agreement.productId
        });
        emit AgreementSigned(
            id,
            agreement.mahId,
            agreement.counterpartyId,
            agreement,
            mahSigner,
            mahSignature,
            counterpartySigner,
            counterpartySignature
        );
    }

    /// @inheritdoc IProductRegistry
    function giveAgreementOpinion(AgreementReview calldata review, bytes calldata signature) external {
        (AgreementTerms storage terms, address signer) = _review(AGREEMENT_OPINION_TYPEHASH, review, signature, false);
        if (terms.approval != CrossProvinceApproval.AwaitingOpinion) revert AgreementOpinionAlreadyGiven(review.agreementId);
        terms.approval = CrossProvinceApproval.AwaitingApproval;
        emit AgreementOpinionGiven(review.agreementId, review.regulatorId, review, signer, signature);
    }

    /// @inheritdoc IProductRegistry
    function approveAgreement(AgreementReview calldata review, bytes calldata signature) external {
        (AgreementTerms storage terms, address signer) = _review(AGREEMENT_APPROVAL_TYPEHASH, review, signature, true);
        if (terms.approval == CrossProvinceApproval.AwaitingOpinion) revert AgreementOpinionMissing(review.agreementId);
        if (terms.approval == CrossProvinceApproval.Approved) revert AgreementAlreadyApproved(review.agreementId);
        terms.approval = CrossProvinceApproval.Approved;
        emit AgreementApproved(review.agreementId, review.regulatorId, review, signer, signature);
    }

    /// @inheritdoc IProductRegistry
    function revokeAgreement(AgreementRevocation calldata revocation, bytes calldata signature) external {
        bytes32 structHash = keccak256(
            abi.encode(
                AGREEMENT_REVOCATION_TYPEHASH,
                revocation.organizationId,
                revocation.nonce,
                revocation.agreementId,
                revocation.reasonHash
            )
        );
        (, address signer) = _attest(structHash, revocation.organizationId, revocation.nonce, signature);
        AgreementTerms storage terms = _agreements[revocation.agreementId];
        if (terms.kind == AgreementKind.None) revert UnknownAgreement(revocation.agreementId);
        if (revocation.organizationId != terms.mahId && revocation.organizationId != terms.counterpartyId) {
            revert NotAgreementParty(revocation.agreementId, revocation.organizationId);
        }
        if (terms.revoked) revert AgreementAlreadyRevoked(revocation.agreementId);
        terms.revoked = true;
        emit AgreementRevoked(revocation.agreementId, revocation.organizationId, revocation, signer, signature);
    }

    /// @inheritdoc IProductRegistry
    function productMah(bytes32 productId) external view returns (uint32) {
        return _productMahs[productId];
    }

    /// @inheritdoc IProductRegistry
    function agreementTerms(bytes32 id) external view returns (AgreementTerms memory) {
        return _agreements[id];
    }

    /// @inheritdoc IProductRegistry
    function agreementId(uint32 mahId, uint256 nonce) public pure returns (bytes32) {
        return keccak256(abi.encode(mahId, nonce));
    }

    function _attesterRole(address signer, uint32 organizationId)
        internal
        view
        override
        returns (IConsortiumRegistry.Role)
    {
        return _registry.attesterRole(signer, organizationId);
    }

    /// @dev Checks a regulator's review of a cross-province quality agreement: signed by a regulator of the MAH's
    /// province (`byMahProvince`, the approval) or of the CMO's (the opinion), of an unrevoked agreement that needs it.
    function _review(bytes32 typehash, AgreementReview calldata review, bytes calldata signature, bool byMahProvince)
        private
        returns (AgreementTerms storage terms, address signer)
    {
        bytes32 structHash =
            keccak256(abi.encode(typehash, review.regulatorId, review.nonce, review.agreementId, review.documentHash));
        signer = _attestAs(IConsortiumRegistry.Role.Regulator, structHash, review.regulatorId, review.nonce, signature);
        terms = _agreements[review.agreementId];
        if (terms.kind == AgreementKind.None) revert UnknownAgreement(review.agreementId);
        if (terms.approval == CrossProvinceApproval.NotRequired) revert AgreementNeedsNoApproval(review.agreementId);
        if (terms.revoked) revert AgreementAlreadyRevoked(review.agreementId);
        uint32 party = byMahProvince ? terms.mahId : terms.counterpartyId;
        if (_registry.provinceOf(review.regulatorId) != _registry.provinceOf(party)) {
            revert IConsortiumRegistry.NotProvinceRegulator(review.regulatorId, party);
        }
    }

    /// @dev Commissioning across provinces needs both provinces' regulators (NMPA's rules on MAH commissioning).
    function _approvalNeeded(Agreement calldata agreement) private view returns (CrossProvinceApproval) {
        bool crossProvince = agreement.kind == AgreementKind.Quality
            && _registry.provinceOf(agreement.mahId) != _registry.provinceOf(agreement.counterpartyId);
        return crossProvince ? CrossProvinceApproval.AwaitingOpinion : CrossProvinceApproval.NotRequired;
    }

    /// @dev A quality agreement binds a CMO to one of the MAH's products; outsourced storage, transport and sales
    /// bind a distributor, and outsourced testing a contract laboratory, to one product or to all of them.
    function _checkTerms(Agreement calldata agreement, IConsortiumRegistry.Role counterpartyRole) private view {
        if (agreement.kind == AgreementKind.None) revert InvalidAgreementKind();
        if (agreement.validUntil <= agreement.validFrom) {
            revert InvalidValidityWindow(agreement.validFrom, agreement.validUntil);
        }
        bool quality = agreement.kind == AgreementKind.Quality;
        IConsortiumRegistry.Role required = quality
            ? IConsortiumRegistry.Role.Cmo
            : agreement.kind == AgreementKind.Testing ? IConsortiumRegistry.Role.Laboratory : IConsortiumRegistry.Role.Distributor;
        _checkRole(agreement.counterpartyId, counterpartyRole, required);
        if (quality && agreement.releaseTester == ReleaseTester.None) revert InvalidReleaseTester();
        if (quality || agreement.productId != bytes32(0)) _checkProductOf(agreement.productId, agreement.mahId);
    }

    function _checkProductOf(bytes32 productId, uint32 mahId) private view {
        uint32 owner = _productMahs[productId];
        if (owner == 0) revert UnknownProduct(productId);
        if (owner != mahId) revert NotProductMah(productId, mahId);
    }

    /// @dev 7 digits (NMPA drug identification code) or 14 digits with a GS1 mod-10 check digit (GTIN-14).
    function _checkProductCode(string calldata productCode) private pure {
        bytes calldata code = bytes(productCode);
        if (code.length != 7 && code.length != 14) revert InvalidProductCode(productCode);
        uint256 weighted;
        for (uint256 i = 0; i < code.length; ++i) {
            uint8 c = uint8(code[i]);
            if (c < 0x30 || c > 0x39) revert InvalidProductCode(productCode);
            // GS1 weights alternate 3,1 from the digit left of the check digit.
            if (i < 13) weighted += (c - 0x30) * (i % 2 == 0 ? 3 : 1);
        }
        if (code.length == 14 && (10 - (weighted % 10)) % 10 != uint8(code[13]) - 0x30) {
            revert InvalidProductCode(productCode);
        }
    }

    function _hashProductRegistration(ProductRegistration calldata registration) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                PRODUCT_REGISTRATION_TYPEHASH,
                registration.mahId,
                registration.nonce,
                keccak256(bytes(registration.productCode)),
                keccak256(bytes(registration.approvalNumber)),
                keccak256(bytes(registration.name))
            )
        );
    }

    function _hashAgreement(Agreement calldata agreement) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                AGREEMENT_TYPEHASH,
                agreement.mahId,
                agreement.nonce,
                agreement.kind,
                agreement.counterpartyId,
                agreement.productId,
                agreement.documentHash,
                agreement.validFrom,
                agreement.validUntil,
                agreement.releaseTester
            )
        );
    }
}
