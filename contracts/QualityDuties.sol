// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Multicall} from "@openzeppelin/contracts/utils/Multicall.sol";
import {Attestations} from "./Attestations.sol";
import {IBatchLedger} from "./interfaces/IBatchLedger.sol";
import {IConsortiumRegistry} from "./interfaces/IConsortiumRegistry.sol";
import {IProductRegistry} from "./interfaces/IProductRegistry.sol";
import {IQualityDuties} from "./interfaces/IQualityDuties.sol";

/// @title The MAH's quality duties and the release checks they switch on
/// @dev BatchLedger asks this contract, when a batch is recorded, whether the batch's product carries rules (a
/// sterile risk class, a named quality authorized person, a contract laboratory as release tester). Only such
/// batches are remembered here and checked at release, so a batch of a product without rules pays one call.
contract QualityDuties is IQualityDuties, Attestations, Multicall {
    bytes32 private constant APPOINTMENT_TYPEHASH = keccak256(
        "PersonAppointment(uint32 mahId,uint256 nonce,bytes32 productId,address personKey,uint8 role,string name)"
    );
    bytes32 private constant PERSON_REVOCATION_TYPEHASH = keccak256(
        "PersonRevocation(uint32 mahId,uint256 nonce,bytes32 productId,address personKey,bytes32 reasonHash)"
    );
    bytes32 private constant RISK_CLASSIFICATION_TYPEHASH =
        keccak256("RiskClassification(uint32 mahId,uint256 nonce,bytes32 productId,uint8 riskClass)");
    bytes32 private constant STERILE_RECORDS_TYPEHASH = keccak256(
        "SterileRecords(uint32 cmoId,uint256 nonce,bytes32 batchId,bytes32 environmentalMonitoringHash,bytes32 cleaningRecordHash)"
    );
    bytes32 private constant TEST_CERTIFICATE_TYPEHASH = keccak256(
        "TestCertificate(uint32 laboratoryId,uint256 nonce,bytes32 agreementId,bytes32 batchId,bytes32 certificateHash,bool passed)"
    );
    bytes32 private constant QUALITY_REVIEW_TYPEHASH = keccak256(
        "QualityReview(uint32 mahId,uint256 nonce,bytes32 productId,uint16 year,uint8 quarter,uint8 riskLevel,bytes32 reviewHash)"
    );

    bytes32 private constant COMMUNICATION_TERMS_TYPEHASH = keccak256(
        "CommunicationTerms(uint32 mahId,uint256 nonce,bytes32 agreementId,uint8 channels,uint32 responseSeconds,bytes32 termsHash)"
    );
    bytes32 private constant QUALITY_NOTICE_TYPEHASH = keccak256(
        "QualityNotice(uint32 senderId,uint256 nonce,bytes32 agreementId,uint8 kind,uint8 channel,bytes32 noticeHash)"
    );
    bytes32 private constant NOTICE_ACKNOWLEDGEMENT_TYPEHASH =
        keccak256("NoticeAcknowledgement(uint32 recipientId,uint256 nonce,bytes32 noticeId,bytes32 responseHash)");
    bytes32 private constant TERMS_COUNTERSIGNATURE_TYPEHASH = keccak256(
        "TermsCountersignature(uint32 cmoId,uint256 nonce,bytes32 agreementId,uint8 channels,uint32 responseSeconds,bytes32 termsHash)"
    );
    bytes32 private constant SHORTAGE_LISTING_TYPEHASH =
        keccak256("ShortageListing(uint32 organizationId,uint256 nonce,bytes32 productId,bool listed,bytes32 basisHash)");
    bytes32 private constant STOP_PRODUCTION_REPORT_TYPEHASH = keccak256(
        "StopProductionReport(uint32 mahId,uint256 nonce,bytes32 productId,uint40 stopAt,bytes32 reportHash)"
    );
    bytes32 private constant RETAINED_SAMPLES_TYPEHASH = keccak256(
        "RetainedSamples(uint32 cmoId,uint256 nonce,bytes32 batchId,uint32 quantity,uint40 retainUntil,string location)"
    );
    bytes32 private constant RETAINED_SAMPLE_APPROVAL_TYPEHASH =
        keccak256("RetainedSampleApproval(uint32 mahId,uint256 nonce,bytes32 batchId,bytes32 approvalHash)");

    /// @dev GMP: retained samples are kept at least one year past the batch's expiry.
    uint40 private constant RETENTION_PAST_EXPIRY = 365 days;

    IConsortiumRegistry private immutable _registry;
    IProductRegistry private immutable _products;
    address private immutable _deployer;
    address private _batchLedger;

    mapping(bytes32 productId => RiskClass) private _riskClasses;
    mapping(bytes32 productId => mapping(address personKey => Person)) private _persons;
    mapping(bytes32 productId => uint16 count) private _qualifiedPersons;
    mapping(bytes32 batchId => BatchDuties) private _batchDuties;
    mapping(bytes32 productId => mapping(uint24 period => bool filed)) private _reviews;
    mapping(bytes32 agreementId => AgreedTerms) private _terms;
    mapping(bytes32 noticeId => Notice) private _notices;
    mapping(bytes32 productId => bool listed) private _shortageListed;
    mapping(bytes32 productId => uint40 stopAt) private _reportedStops;
    mapping(bytes32 batchId => SampleState) private _samples;

    constructor(IConsortiumRegistry registry, IProductRegistry products) Attestations("QualityDuties") {
        _registry = registry;
        _products = products;
        _deployer = msg.sender;
    }

    /// @inheritdoc IQualityDuties
    function bindBatchLedger(address batchLedger) external {
        if (msg.sender != _deployer) revert NotDeployer(msg.sender);
        if (_batchLedger != address(0)) revert BatchLedgerAlreadyBound(_batchLedger);
        _batchLedger = batchLedger;
    }

    // ----- responsible persons -----

    /// @inheritdoc IQualityDuties
    function appointPerson(PersonAppointment calldata appointment, bytes calldata signature) external {
        bytes32 structHash = keccak256(
            abi.encode(
                APPOINTMENT_TYPEHASH,
                appointment.mahId,
                appointment.nonce,
                appointment.productId,
                appointment.personKey,
                appointment.role,
                keccak256(bytes(appointment.name))
            )
        );
        address signer = _attestAs(
            IConsortiumRegistry.Role.Mah, structHash, appointment.mahId, appointment.nonce, signature
        );
        _checkProductOf(appointment.productId, appointment.mahId);
        if (appointment.role == PersonRole.None || appointment.role == PersonRole.Organization) {
            revert InvalidPersonRole();
        }
        if (bytes(appointment.name).length == 0) revert EmptyPersonName();
        (uint32 keyOrganization, bool keyRevoked) = _registry.signingKey(appointment.personKey);
        if (keyOrganization != appointment.mahId || keyRevoked) {
            revert PersonKeyNotOfOrganization(appointment.personKey, appointment.mahId);
        }
        Person storage named = _persons[appointment.productId][appointment.personKey];
        if (named.role != PersonRole.None && !named.revoked) {
            revert ResponsiblePersonAlreadyAppointed(appointment.productId, appointment.personKey);
        }
        named.role = appointment.role;
        named.revoked = false;
        named.nameHash = keccak256(bytes(appointment.name));
        if (appointment.role == PersonRole.QualifiedPerson) _qualifiedPersons[appointment.productId] += 1;
        emit ResponsiblePersonAppointed(
            appointment.productId, appointment.mahId, appointment.personKey, appointment, signer, signature
        );
    }

    /// @inheritdoc IQualityDuties
    function revokePerson(PersonRevocation calldata revocation, bytes calldata signature) external {
        bytes32 structHash = keccak256(
            abi.encode(
                PERSON_REVOCATION_TYPEHASH,
                revocation.mahId,
                revocation.nonce,
                revocation.productId,
                revocation.personKey,
                revocation.reasonHash
            )
        );
        address signer = _attestAs(
            IConsortiumRegistry.Role.Mah, structHash, revocation.mahId, revocation.nonce, signature
        );
        _checkProductOf(revocation.productId, revocation.mahId);
        Person storage named = _persons[revocation.productId][revocation.personKey];
        if (named.role == PersonRole.None) revert UnknownResponsiblePerson(revocation.productId, revocation.personKey);
        if (named.revoked) revert ResponsiblePersonAlreadyRevoked(revocation.productId, revocation.personKey);
        named.revoked = true;
        if (named.role == PersonRole.QualifiedPerson) _qualifiedPersons[revocation.productId] -= 1;
        emit ResponsiblePersonRevoked(
            revocation.productId, revocation.mahId, revocation.personKey, revocation, signer, signature
        );
    }

    // ----- risk class and sterile records -----

    /// @inheritdoc IQualityDuties
    function classifyProduct(RiskClassification calldata classification, bytes calldata signature) external {
        bytes32 structHash = keccak256(
            abi.encode(
                RISK_CLASSIFICATION_TYPEHASH,
                classification.mahId,
                classification.nonce,
                classification.productId,
                classification.riskClass
            )
        );
        address signer = _attestAs(
            IConsortiumRegistry.Role.Mah, structHash, classification.mahId, classification.nonce, signature
        );
        _checkProductOf(classification.productId, classification.mahId);
        if (classification.riskClass == RiskClass.None) revert InvalidRiskClass();
        RiskClass current = _riskClasses[classification.productId];
        // Once recorded, a class cannot be lowered to escape the rules it switched on.
        if (current != RiskClass.None) revert RiskClassAlreadySet(classification.productId, current);
        _riskClasses[classification.productId] = classification.riskClass;
        emit ProductRiskClassified(
            classification.productId, classification.mahId, classification, signer, signature
        );
    }

    /// @inheritdoc IQualityDuties
    function referenceSterileRecords(SterileRecords calldata records, bytes calldata signature) external {
        bytes32 structHash = keccak256(
            abi.encode(
                STERILE_RECORDS_TYPEHASH,
                records.cmoId,
                records.nonce,
                records.batchId,
                records.environmentalMonitoringHash,
                records.cleaningRecordHash
            )
        );
        (, address signer) = _attest(structHash, records.cmoId, records.nonce, signature);
        BatchDuties storage duties = _dutiesOf(records.batchId);
        if (!duties.sterileRecordsRequired) revert SterileRecordsNotRequired(records.batchId);
        if (duties.cmoId != records.cmoId) revert NotBatchCmo(records.batchId, records.cmoId);
        if (duties.sterileRecorded) revert SterileRecordsAlreadyReferenced(records.batchId);
        if (records.environmentalMonitoringHash == 0 || records.cleaningRecordHash == 0) revert EmptySterileRecord();
        duties.sterileRecorded = true;
        emit SterileRecordsReferenced(records.batchId, records.cmoId, records, signer, signature);
    }

    // ----- contract laboratories -----

    /// @inheritdoc IQualityDuties
    function issueTestCertificate(TestCertificate calldata certificate, bytes calldata signature) external {
        bytes32 structHash = keccak256(
            abi.encode(
                TEST_CERTIFICATE_TYPEHASH,
                certificate.laboratoryId,
                certificate.nonce,
                certificate.agreementId,
                certificate.batchId,
                certificate.certificateHash,
                certificate.passed
            )
        );
        address signer = _attestAs(
            IConsortiumRegistry.Role.Laboratory,
            structHash,
            certificate.laboratoryId,
            certificate.nonce,
            signature
        );
        BatchDuties storage duties = _dutiesOf(certificate.batchId);
        if (!duties.certificateRequired) revert TestCertificateNotRequired(certificate.batchId);
        _checkTestingAgreement(certificate, duties);
        if (duties.laboratoryId != 0) revert TestCertificateAlreadyIssued(certificate.batchId);
        duties.laboratoryId = certificate.laboratoryId;
        duties.certificatePassed = certificate.passed;
        emit TestCertificateIssued(certificate.batchId, certificate.laboratoryId, certificate, signer, signature);
    }

    // ----- quarterly quality review -----

    /// @inheritdoc IQualityDuties
    function fileQualityReview(QualityReview calldata review, bytes calldata signature) external {
        bytes32 structHash = keccak256(
            abi.encode(
                QUALITY_REVIEW_TYPEHASH,
                review.mahId,
                review.nonce,
                review.productId,
                review.year,
                review.quarter,
                review.riskLevel,
                review.reviewHash
            )
        );
        address signer = _attestAs(IConsortiumRegistry.Role.Mah, structHash, review.mahId, review.nonce, signature);
        _checkProductOf(review.productId, review.mahId);
        if (review.quarter == 0 || review.quarter > 4 || review.year < 2000) {
            revert InvalidReviewPeriod(review.year, review.quarter);
        }
        if (review.riskLevel == RiskLevel.None) revert InvalidRiskLevel();
        uint24 period = _period(review.year, review.quarter);
        if (_reviews[review.productId][period]) {
            revert QualityReviewAlreadyFiled(review.productId, review.year, review.quarter);
        }
        _reviews[review.productId][period] = true;
        emit QualityReviewFiled(review.productId, review.mahId, review, signer, signature);
    }

    // ----- communication log per quality agreement -----

    /// @inheritdoc IQualityDuties
    function agreeCommunicationTerms(CommunicationTerms calldata terms, bytes calldata signature) external {
        bytes32 structHash = keccak256(
            abi.encode(
                COMMUNICATION_TERMS_TYPEHASH,
                terms.mahId,
                terms.nonce,
                terms.agreementId,
                terms.channels,
                terms.responseSeconds,
                terms.termsHash
            )
        );
        address signer = _attestAs(IConsortiumRegistry.Role.Mah, structHash, terms.mahId, terms.nonce, signature);
        IProductRegistry.AgreementTerms memory agreement = _qualityAgreement(terms.agreementId, terms.mahId);
        if (agreement.mahId != terms.mahId) revert NotQualityAgreementParty(terms.agreementId, terms.mahId);
        if (terms.channels == 0 || terms.responseSeconds == 0) {
            revert InvalidCommunicationTerms(terms.channels, terms.responseSeconds);
        }
        _terms[terms.agreementId] = AgreedTerms({
            channels: terms.channels,
            responseSeconds: terms.responseSeconds,
            countersigned: false,
            termsHash: terms.termsHash
        });
        emit CommunicationTermsAgreed(terms.agreementId, terms.mahId, terms, signer, signature);
    }

    /// @inheritdoc IQualityDuties
    function countersignCommunicationTerms(TermsCountersignature calldata countersignature, bytes calldata signature)
        external
    {
        bytes32 structHash = keccak256(
            abi.encode(
                TERMS_COUNTERSIGNATURE_TYPEHASH,
                countersignature.cmoId,
                countersignature.nonce,
                countersignature.agreementId,
                countersignature.channels,
                countersignature.responseSeconds,
                countersignature.termsHash
            )
        );
        address signer = _attestAs(
            IConsortiumRegistry.Role.Cmo, structHash, countersignature.cmoId, countersignature.nonce, signature
        );
        IProductRegistry.AgreementTerms memory agreement =
            _qualityAgreement(countersignature.agreementId, countersignature.cmoId);
        if (agreement.counterpartyId != countersignature.cmoId) {
            revert NotQualityAgreementParty(countersignature.agreementId, countersignature.cmoId);
        }
        AgreedTerms storage terms = _terms[countersignature.agreementId];
        if (terms.channels == 0) revert CommunicationTermsMissing(countersignature.agreementId);
        if (terms.countersigned) revert CommunicationTermsAlreadyCountersigned(countersignature.agreementId);
        if (
            terms.channels != countersignature.channels || terms.responseSeconds != countersignature.responseSeconds
                || terms.termsHash != countersignature.termsHash
        ) revert CommunicationTermsMismatch(countersignature.agreementId);
        terms.countersigned = true;
        emit CommunicationTermsCountersigned(
            countersignature.agreementId, countersignature.cmoId, countersignature, signer, signature
        );
    }

    /// @inheritdoc IQualityDuties
    function sendNotice(QualityNotice calldata sent, bytes calldata signature) external returns (bytes32 noticeId) {
        bytes32 structHash = keccak256(
            abi.encode(
                QUALITY_NOTICE_TYPEHASH,
                sent.senderId,
                sent.nonce,
                sent.agreementId,
                sent.kind,
                sent.channel,
                sent.noticeHash
            )
        );
        (, address signer) = _attest(structHash, sent.senderId, sent.nonce, signature);
        IProductRegistry.AgreementTerms memory agreement = _qualityAgreement(sent.agreementId, sent.senderId);
        if (sent.kind == NoticeKind.None) revert InvalidNoticeKind();
        AgreedTerms memory terms = _terms[sent.agreementId];
        if (terms.channels == 0) revert CommunicationTermsMissing(sent.agreementId);
        if (!terms.countersigned) revert CommunicationTermsNotCountersigned(sent.agreementId);
        if (sent.channel > 7 || terms.channels & (1 << sent.channel) == 0) {
            revert ChannelNotAgreed(sent.agreementId, sent.channel);
        }
        uint32 recipientId = sent.senderId == agreement.mahId ? agreement.counterpartyId : agreement.mahId;
        uint40 dueAt = uint40(block.timestamp) + terms.responseSeconds;
        noticeId = keccak256(abi.encode(sent.senderId, sent.nonce));
        _notices[noticeId] = Notice({senderId: sent.senderId, recipientId: recipientId, dueAt: dueAt, acknowledged: false});
        emit QualityNoticeSent(noticeId, sent.agreementId, recipientId, sent, dueAt, signer, signature);
    }

    /// @inheritdoc IQualityDuties
    function acknowledgeNotice(NoticeAcknowledgement calldata acknowledgement, bytes calldata signature) external {
        bytes32 structHash = keccak256(
            abi.encode(
                NOTICE_ACKNOWLEDGEMENT_TYPEHASH,
                acknowledgement.recipientId,
                acknowledgement.nonce,
                acknowledgement.noticeId,
                acknowledgement.responseHash
            )
        );
        (, address signer) = _attest(structHash, acknowledgement.recipientId, acknowledgement.nonce, signature);
        Notice storage received = _notices[acknowledgement.noticeId];
        if (received.senderId == 0) revert UnknownNotice(acknowledgement.noticeId);
        if (received.recipientId != acknowledgement.recipientId) {
            revert NotNoticeRecipient(acknowledgement.noticeId, acknowledgement.recipientId);
        }
        if (received.acknowledged) revert NoticeAlreadyAcknowledged(acknowledgement.noticeId);
        received.acknowledged = true;
        emit QualityNoticeAcknowledged(
            acknowledgement.noticeId, acknowledgement.recipientId, acknowledgement, signer, signature
        );
    }

    /// @inheritdoc IQualityDuties
    function notice(bytes32 noticeId) external view returns (Notice memory) {
        return _notices[noticeId];
    }

    // ----- shortage-listed drugs -----

    /// @inheritdoc IQualityDuties
    function changeShortageListing(ShortageListing calldata listing, bytes calldata signature) external {
        bytes32 structHash = keccak256(
            abi.encode(
                SHORTAGE_LISTING_TYPEHASH,
                listing.organizationId,
                listing.nonce,
                listing.productId,
                listing.listed,
                listing.basisHash
            )
        );
        (IConsortiumRegistry.Role role, address signer) =
            _attest(structHash, listing.organizationId, listing.nonce, signature);
        if (role == IConsortiumRegistry.Role.Mah) {
            _checkProductOf(listing.productId, listing.organizationId);
        } else if (role == IConsortiumRegistry.Role.Regulator) {
            if (_products.productMah(listing.productId) == 0) revert IProductRegistry.UnknownProduct(listing.productId);
        } else {
            revert NotShortageLister(listing.organizationId);
        }
        if (_shortageListed[listing.productId] == listing.listed) {
            revert ShortageListingUnchanged(listing.productId, listing.listed);
        }
        _shortageListed[listing.productId] = listing.listed;
        emit ShortageListingChanged(listing.productId, listing.organizationId, listing, signer, signature);
    }

    /// @inheritdoc IQualityDuties
    function reportStopProduction(StopProductionReport calldata report, bytes calldata signature) external {
        bytes32 structHash = keccak256(
            abi.encode(
                STOP_PRODUCTION_REPORT_TYPEHASH,
                report.mahId,
                report.nonce,
                report.productId,
                report.stopAt,
                report.reportHash
            )
        );
        address signer = _attestAs(IConsortiumRegistry.Role.Mah, structHash, report.mahId, report.nonce, signature);
        _checkProductOf(report.productId, report.mahId);
        if (!_shortageListed[report.productId]) revert ProductNotShortageListed(report.productId);
        if (report.stopAt <= block.timestamp) {
            revert StopProductionReportLate(report.productId, report.stopAt, uint40(block.timestamp));
        }
        // A later report revises the planned stop; each stays in the log.
        _reportedStops[report.productId] = report.stopAt;
        emit StopProductionReported(report.productId, report.mahId, report, signer, signature);
    }

    // ----- retained samples -----

    /// @inheritdoc IQualityDuties
    function recordRetainedSamples(RetainedSamples calldata samples, bytes calldata signature) external {
        bytes32 structHash = keccak256(
            abi.encode(
                RETAINED_SAMPLES_TYPEHASH,
                samples.cmoId,
                samples.nonce,
                samples.batchId,
                samples.quantity,
                samples.retainUntil,
                keccak256(bytes(samples.location))
            )
        );
        address signer = _attestAs(IConsortiumRegistry.Role.Cmo, structHash, samples.cmoId, samples.nonce, signature);
        IBatchLedger.Batch memory made = _batchOf(samples.batchId);
        if (made.cmoId != samples.cmoId) revert NotBatchCmo(samples.batchId, samples.cmoId);
        if (samples.quantity == 0 || bytes(samples.location).length == 0) revert InvalidRetainedSamples();
        uint40 requiredUntil = made.expiresAt + RETENTION_PAST_EXPIRY;
        if (samples.retainUntil < requiredUntil) {
            revert RetentionTooShort(samples.batchId, samples.retainUntil, requiredUntil);
        }
        if (_samples[samples.batchId].recorded) revert RetainedSamplesAlreadyRecorded(samples.batchId);
        _samples[samples.batchId].recorded = true;
        emit RetainedSamplesRecorded(samples.batchId, samples.cmoId, samples, signer, signature);
    }

    /// @inheritdoc IQualityDuties
    function approveRetainedSamples(RetainedSampleApproval calldata approval, bytes calldata signature) external {
        bytes32 structHash = keccak256(
            abi.encode(
                RETAINED_SAMPLE_APPROVAL_TYPEHASH, approval.mahId, approval.nonce, approval.batchId, approval.approvalHash
            )
        );
        address signer =
            _attestAs(IConsortiumRegistry.Role.Mah, structHash, approval.mahId, approval.nonce, signature);
        if (_batchOf(approval.batchId).mahId != approval.mahId) revert NotBatchMah(approval.batchId, approval.mahId);
        SampleState storage kept = _samples[approval.batchId];
        if (!kept.recorded) revert RetainedSamplesNotRecorded(approval.batchId);
        if (kept.approved) revert RetainedSamplesAlreadyApproved(approval.batchId);
        kept.approved = true;
        emit RetainedSamplesApproved(approval.batchId, approval.mahId, approval, signer, signature);
    }

    // ----- release checks (BatchLedger) -----

    /// @inheritdoc IQualityDuties
    function recordBatchDuties(bytes32 batchId, bytes32 productId, uint32 mahId, uint32 cmoId, bool certificateRequired)
        external
        returns (bool checked)
    {
        if (msg.sender != _batchLedger) revert NotBatchLedger(msg.sender);
        RiskClass risk = _riskClasses[productId];
        bool sterile = risk == RiskClass.Sterile || risk == RiskClass.TcmInjection || risk == RiskClass.Vaccine;
        bool qualifiedPersonSigns = _qualifiedPersons[productId] != 0;
        checked = sterile || certificateRequired || qualifiedPersonSigns;
        if (!checked) return false;
        _batchDuties[batchId] = BatchDuties({
            productId: productId,
            mahId: mahId,
            cmoId: cmoId,
            sterileRecordsRequired: sterile,
            sterileRecorded: false,
            certificateRequired: certificateRequired,
            qualifiedPersonSigns: qualifiedPersonSigns,
            laboratoryId: 0,
            certificatePassed: false
        });
    }

    /// @inheritdoc IQualityDuties
    function checkFactoryRelease(bytes32 batchId) external view {
        BatchDuties storage duties = _dutiesOf(batchId);
        if (duties.sterileRecordsRequired && !duties.sterileRecorded) revert SterileRecordsMissing(batchId);
        if (duties.certificateRequired) {
            if (duties.laboratoryId == 0) revert TestCertificateMissing(batchId);
            if (!duties.certificatePassed) revert TestCertificateFailed(batchId, duties.laboratoryId);
        }
    }

    /// @inheritdoc IQualityDuties
    function checkMarketRelease(bytes32 batchId, address signer, PersonRole signerRole, string calldata signerName)
        external
        view
        returns (bool personSigns)
    {
        BatchDuties storage duties = _dutiesOf(batchId);
        if (duties.sterileRecordsRequired && !_samples[batchId].approved) revert RetainedSamplesNotApproved(batchId);
        if (!duties.qualifiedPersonSigns) return false;
        Person memory named = _persons[duties.productId][signer];
        if (named.role == PersonRole.None) revert ReleaseNotByResponsiblePerson(batchId, signer);
        if (named.revoked) revert ResponsiblePersonRevokedForRelease(batchId, signer);
        if (named.role != PersonRole.QualifiedPerson) {
            revert ResponsiblePersonRoleMismatch(batchId, signer, named.role, PersonRole.QualifiedPerson);
        }
        if (signerRole != named.role) revert ReleaseSignerRoleMismatch(batchId, signer, signerRole, named.role);
        if (keccak256(bytes(signerName)) != named.nameHash) {
            revert ReleaseSignerNameMismatch(batchId, signer, signerName);
        }
        return true;
    }

    // ----- reads -----

    /// @inheritdoc IQualityDuties
    function batchDuties(bytes32 batchId) external view returns (BatchDuties memory) {
        return _batchDuties[batchId];
    }

    /// @inheritdoc IQualityDuties
    function person(bytes32 productId, address personKey) external view returns (Person memory) {
        return _persons[productId][personKey];
    }

    /// @inheritdoc IQualityDuties
    function riskClass(bytes32 productId) external view returns (RiskClass) {
        return _riskClasses[productId];
    }

    /// @inheritdoc IQualityDuties
    function isQualityReviewFiled(bytes32 productId, uint16 year, uint8 quarter) external view returns (bool) {
        return _reviews[productId][_period(year, quarter)];
    }

    /// @inheritdoc IQualityDuties
    function communicationTerms(bytes32 agreementId) external view returns (AgreedTerms memory) {
        return _terms[agreementId];
    }

    /// @inheritdoc IQualityDuties
    function isShortageListed(bytes32 productId) external view returns (bool) {
        return _shortageListed[productId];
    }

    /// @inheritdoc IQualityDuties
    function reportedStopAt(bytes32 productId) external view returns (uint40) {
        return _reportedStops[productId];
    }

    /// @inheritdoc IQualityDuties
    function retainedSamples(bytes32 batchId) external view returns (SampleState memory) {
        return _samples[batchId];
    }

    // ----- rules -----

    function _attesterRole(address signer, uint32 organizationId)
        internal
        view
        override
        returns (IConsortiumRegistry.Role)
    {
        return _registry.attesterRole(signer, organizationId);
    }

    function _checkProductOf(bytes32 productId, uint32 mahId) private view {
        uint32 owner = _products.productMah(productId);
        if (owner == 0) revert IProductRegistry.UnknownProduct(productId);
        if (owner != mahId) revert IProductRegistry.NotProductMah(productId, mahId);
    }

    /// @dev The laboratory tests under its own testing agreement with the batch's MAH, for the batch's product (or
    /// all of the MAH's products), in force now.
    function _checkTestingAgreement(TestCertificate calldata certificate, BatchDuties storage duties) private view {
        IProductRegistry.AgreementTerms memory terms = _products.agreementTerms(certificate.agreementId);
        if (terms.kind != IProductRegistry.AgreementKind.Testing) revert NotTestingAgreement(certificate.agreementId);
        if (terms.counterpartyId != certificate.laboratoryId) {
            revert NotAgreementLaboratory(certificate.agreementId, certificate.laboratoryId);
        }
        if (terms.revoked || block.timestamp < terms.validFrom || block.timestamp >= terms.validUntil) {
            revert TestingAgreementNotInForce(certificate.agreementId);
        }
        if (terms.mahId != duties.mahId || (terms.productId != 0 && terms.productId != duties.productId)) {
            revert AgreementNotForBatch(certificate.agreementId, certificate.batchId);
        }
    }

    /// @dev A quality agreement (MAH and CMO) that `organizationId` is a party to; revoked or expired ones too, since
    /// what was agreed while in force is still owed.
    function _qualityAgreement(bytes32 agreementId, uint32 organizationId)
        private
        view
        returns (IProductRegistry.AgreementTerms memory agreement)
    {
        agreement = _products.agreementTerms(agreementId);
        if (agreement.kind != IProductRegistry.AgreementKind.Quality) revert NotQualityAgreementParty(agreementId, organizationId);
        if (agreement.mahId != organizationId && agreement.counterpartyId != organizationId) {
            revert NotQualityAgreementParty(agreementId, organizationId);
        }
    }

    function _batchOf(bytes32 batchId) private view returns (IBatchLedger.Batch memory made) {
        made = IBatchLedger(_batchLedger).batch(batchId);
        if (made.state == IBatchLedger.BatchState.None) revert IBatchLedger.UnknownBatch(batchId);
    }

    function _dutiesOf(bytes32 batchId) private view returns (BatchDuties storage duties) {
        duties = _batchDuties[batchId];
        if (duties.mahId == 0) revert NoBatchDuties(batchId);
    }

    function _period(uint16 year, uint8 quarter) private pure returns (uint24) {
        return uint24(year) * 4 + quarter;
    }
}
