// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAttestations} from "./IAttestations.sol";

/// @title The MAH's quality duties and the release checks they switch on
/// @notice Named responsible persons per product (the quality authorized person who signs market release), product
/// risk classes (sterile products need environmental-monitoring and cleaning records before factory release),
/// contract laboratories' test certificates (checked at factory release when the quality agreement names a contract
/// laboratory the release tester), the MAH's quarterly quality reviews with their risk assessment, stop-production
/// reports for shortage-listed drugs, retained samples approved by the MAH, and the communication log of each
/// quality agreement (terms recorded by the MAH and countersigned by the CMO, notices and acknowledgements).
interface IQualityDuties is IAttestations {
    /// @dev QualifiedPerson (质量受权人) signs market release; the others are named for the record. Organization is
    /// never appointed: a market release states it when signed by the MAH's own key, no person named.
    enum PersonRole {
        None,
        QualifiedPerson,
        QualityHead,
        ProductionHead,
        PharmacovigilanceHead,
        Organization
    }

    /// @dev Sterile, Vaccine and TcmInjection are sterile dosage forms: their batches need sterile records.
    enum RiskClass {
        None,
        Biologic,
        Sterile,
        TcmInjection,
        Vaccine,
        Other
    }

    enum RiskLevel {
        None,
        Low,
        Medium,
        High
    }

    /// @dev What a notice between the parties of a quality agreement is about.
    enum NoticeKind {
        None,
        ChangeControl,
        Deviation,
        Complaint,
        AuditFinding
    }

    /// @notice The channels (a bitmask of 1 << channel: 1 email, 2 phone, 3 portal, 4 meeting) and the response
    /// time a quality agreement sets for the parties' notices, recorded by its MAH (`termsHash`: the clause).
    struct CommunicationTerms {
        uint32 mahId;
        uint256 nonce;
        bytes32 agreementId;
        uint8 channels;
        uint32 responseSeconds;
        bytes32 termsHash;
    }

    /// @notice A party's notice to the other party of a quality agreement, over an agreed channel.
    struct QualityNotice {
        uint32 senderId;
        uint256 nonce;
        bytes32 agreementId;
        NoticeKind kind;
        uint8 channel;
        bytes32 noticeHash;
    }

    /// @notice The addressee's acknowledgement of a notice.
    struct NoticeAcknowledgement {
        uint32 recipientId;
        uint256 nonce;
        bytes32 noticeId;
        bytes32 responseHash;
    }

    /// @notice The CMO (the quality agreement's counterparty) countersigns the communication terms the MAH recorded,
    /// repeating them so its signature covers the channels and the response time it agrees to.
    struct TermsCountersignature {
        uint32 cmoId;
        uint256 nonce;
        bytes32 agreementId;
        uint8 channels;
        uint32 responseSeconds;
        bytes32 termsHash;
    }

    /// @dev A quality agreement's communication terms; notices are sent only once the CMO countersigned them.
    struct AgreedTerms {
        uint8 channels;
        uint32 responseSeconds;
        bool countersigned;
        bytes32 termsHash;
    }

    /// @notice A regulator or the product's MAH lists a product as a shortage drug (短缺药品), or delists it.
    struct ShortageListing {
        uint32 organizationId;
        uint256 nonce;
        bytes32 productId;
        bool listed;
        bytes32 basisHash;
    }

    /// @notice The MAH reports that it stops producing a shortage-listed product at `stopAt`; due before the stop.
    struct StopProductionReport {
        uint32 mahId;
        uint256 nonce;
        bytes32 productId;
        uint40 stopAt;
        bytes32 reportHash;
    }

    /// @notice The CMO records the retained samples (留样) of a batch it made: how many, where, kept until when.
    struct RetainedSamples {
        uint32 cmoId;
        uint256 nonce;
        bytes32 batchId;
        uint32 quantity;
        uint40 retainUntil;
        string location;
    }

    /// @notice The MAH approves the retained samples the CMO recorded for one of its batches.
    struct RetainedSampleApproval {
        uint32 mahId;
        uint256 nonce;
        bytes32 batchId;
        bytes32 approvalHash;
    }

    struct SampleState {
        bool recorded;
        bool approved;
    }

    struct Notice {
        uint32 senderId;
        uint32 recipientId;
        uint40 dueAt;
        bool acknowledged;
    }

    /// @notice The MAH names a person, by a signing key of its own, responsible for one of its products.
    struct PersonAppointment {
        uint32 mahId;
        uint256 nonce;
        bytes32 productId;
        address personKey;
        PersonRole role;
        string name;
    }

    struct PersonRevocation {
        uint32 mahId;
        uint256 nonce;
        bytes32 productId;
        address personKey;
        bytes32 reasonHash;
    }

    /// @notice The MAH records a product's risk class, once.
    struct RiskClassification {
        uint32 mahId;
        uint256 nonce;
        bytes32 productId;
        RiskClass riskClass;
    }

    /// @notice The CMO references a sterile batch's environmental-monitoring and cleaning records.
    struct SterileRecords {
        uint32 cmoId;
        uint256 nonce;
        bytes32 batchId;
        bytes32 environmentalMonitoringHash;
        bytes32 cleaningRecordHash;
    }

    /// @notice A contract laboratory's certificate of a batch's release testing, under its testing agreement.
    struct TestCertificate {
        uint32 laboratoryId;
        uint256 nonce;
        bytes32 agreementId;
        bytes32 batchId;
        bytes32 certificateHash;
        bool passed;
    }

    /// @notice The MAH's quarterly quality review of a product, with its risk assessment.
    struct QualityReview {
        uint32 mahId;
        uint256 nonce;
        bytes32 productId;
        uint16 year;
        uint8 quarter;
        RiskLevel riskLevel;
        bytes32 reviewHash;
    }

    /// @dev What a batch's release must show, fixed when the batch is recorded (the rules of its product then).
    struct BatchDuties {
        bytes32 productId;
        uint32 mahId;
        uint32 cmoId;
        bool sterileRecordsRequired;
        bool sterileRecorded;
        bool certificateRequired;
        bool qualifiedPersonSigns;
        uint32 laboratoryId;
        bool certificatePassed;
    }

    struct Person {
        PersonRole role;
        bool revoked;
        bytes32 nameHash;
    }

    event ResponsiblePersonAppointed(
        bytes32 indexed productId,
        uint32 indexed mahId,
        address indexed personKey,
        PersonAppointment appointment,
        address signer,
        bytes signature
    );
    event ResponsiblePersonRevoked(
        bytes32 indexed productId,
        uint32 indexed mahId,
        address indexed personKey,
        PersonRevocation revocation,
        address signer,
        bytes signature
    );
    event ProductRiskClassified(
        bytes32 indexed productId, uint32 indexed mahId, RiskClassification classification, address signer, bytes signature
    );
    event SterileRecordsReferenced(
        bytes32 indexed batchId, uint32 indexed cmoId, SterileRecords records, address signer, bytes signature
    );
    event TestCertificateIssued(
        bytes32 indexed batchId,
        uint32 indexed laboratoryId,
        TestCertificate certificate,
        address signer,
        bytes signature
    );
    event QualityReviewFiled(
        bytes32 indexed productId, uint32 indexed mahId, QualityReview review, address signer, bytes signature
    );
    event CommunicationTermsAgreed(
        bytes32 indexed agreementId, uint32 indexed mahId, CommunicationTerms terms, address signer, bytes signature
    );
    event CommunicationTermsCountersigned(
        bytes32 indexed agreementId,
        uint32 indexed cmoId,
        TermsCountersignature countersignature,
        address signer,
        bytes signature
    );
    event ShortageListingChanged(
        bytes32 indexed productId, uint32 indexed organizationId, ShortageListing listing, address signer, bytes signature
    );
    event StopProductionReported(
        bytes32 indexed productId, uint32 indexed mahId, StopProductionReport report, address signer, bytes signature
    );
    event RetainedSamplesRecorded(
        bytes32 indexed batchId, uint32 indexed cmoId, RetainedSamples samples, address signer, bytes signature
    );
    event RetainedSamplesApproved(
        bytes32 indexed batchId, uint32 indexed mahId, RetainedSampleApproval approval, address signer, bytes signature
    );
    /// @param dueAt When the addressee's acknowledgement is due (sent + the agreed response time).
    event QualityNoticeSent(
        bytes32 indexed noticeId,
        bytes32 indexed agreementId,
        uint32 indexed recipientId,
        QualityNotice notice,
        uint40 dueAt,
        address signer,
        bytes signature
    );
    event QualityNoticeAcknowledged(
        bytes32 indexed noticeId, uint32 indexed recipientId, NoticeAcknowledgement acknowledgement, address signer, bytes signature
    );

    error NotBatchLedger(address caller);
    error NotDeployer(address caller);
    error BatchLedgerAlreadyBound(address batchLedger);
    error InvalidPersonRole();
    error EmptyPersonName();
    /// @notice A responsible person signs with a key the MAH registered as its own.
    error PersonKeyNotOfOrganization(address personKey, uint32 organizationId);
    error ResponsiblePersonAlreadyAppointed(bytes32 productId, address personKey);
    error UnknownResponsiblePerson(bytes32 productId, address personKey);
    error ResponsiblePersonAlreadyRevoked(bytes32 productId, address personKey);
    /// @notice The product has a named quality authorized person; the market release was signed by someone else.
    error ReleaseNotByResponsiblePerson(bytes32 batchId, address signer);
    error ResponsiblePersonRoleMismatch(bytes32 batchId, address signer, PersonRole role, PersonRole required);
    error ResponsiblePersonRevokedForRelease(bytes32 batchId, address signer);
    error ReleaseSignerNameMismatch(bytes32 batchId, address signer, string signerName);
    error ReleaseSignerRoleMismatch(bytes32 batchId, address signer, PersonRole signerRole, PersonRole appointed);
    error InvalidRiskClass();
    error RiskClassAlreadySet(bytes32 productId, RiskClass riskClass);
    /// @notice QualityDuties holds no release checks for this batch (it needs none, or it is not recorded).
    error NoBatchDuties(bytes32 batchId);
    error SterileRecordsNotRequired(bytes32 batchId);
    error SterileRecordsAlreadyReferenced(bytes32 batchId);
    error EmptySterileRecord();
    error NotBatchCmo(bytes32 batchId, uint32 organizationId);
    /// @notice A sterile product's batch is released from the factory only with its sterile records referenced.
    error SterileRecordsMissing(bytes32 batchId);
    error TestCertificateNotRequired(bytes32 batchId);
    error NotTestingAgreement(bytes32 agreementId);
    error NotAgreementLaboratory(bytes32 agreementId, uint32 laboratoryId);
    error TestingAgreementNotInForce(bytes32 agreementId);
    error AgreementNotForBatch(bytes32 agreementId, bytes32 batchId);
    error TestCertificateAlreadyIssued(bytes32 batchId);
    /// @notice The quality agreement names a contract laboratory the release tester; no certificate is on the ledger.
    error TestCertificateMissing(bytes32 batchId);
    error TestCertificateFailed(bytes32 batchId, uint32 laboratoryId);
    error InvalidReviewPeriod(uint16 year, uint8 quarter);
    error InvalidRiskLevel();
    error QualityReviewAlreadyFiled(bytes32 productId, uint16 year, uint8 quarter);
    error NotQualityAgreementParty(bytes32 agreementId, uint32 organizationId);
    error InvalidCommunicationTerms(uint8 channels, uint32 responseSeconds);
    /// @notice The parties have not agreed channels and a response time for this quality agreement's notices.
    error CommunicationTermsMissing(bytes32 agreementId);
    error ChannelNotAgreed(bytes32 agreementId, uint8 channel);
    error InvalidNoticeKind();
    error UnknownNotice(bytes32 noticeId);
    error NotNoticeRecipient(bytes32 noticeId, uint32 organizationId);
    error NoticeAlreadyAcknowledged(bytes32 noticeId);
    error CommunicationTermsNotCountersigned(bytes32 agreementId);
    /// @notice The countersignature repeats other channels, response time or clause than the MAH recorded.
    error CommunicationTermsMismatch(bytes32 agreementId);
    error CommunicationTermsAlreadyCountersigned(bytes32 agreementId);
    /// @notice Only a regulator or the product's MAH lists a product as a shortage drug.
    error NotShortageLister(uint32 organizationId);
    error ShortageListingUnchanged(bytes32 productId, bool listed);
    error ProductNotShortageListed(bytes32 productId);
    /// @notice A stop-production report is due before the stop: one filed at or after `stopAt` is refused.
    error StopProductionReportLate(bytes32 productId, uint40 stopAt, uint40 reportedAt);
    error InvalidRetainedSamples();
    /// @notice Retained samples are kept at least a year past the batch's expiry.
    error RetentionTooShort(bytes32 batchId, uint40 retainUntil, uint40 requiredUntil);
    error RetainedSamplesAlreadyRecorded(bytes32 batchId);
    error RetainedSamplesNotRecorded(bytes32 batchId);
    error RetainedSamplesAlreadyApproved(bytes32 batchId);
    error NotBatchMah(bytes32 batchId, uint32 organizationId);
    /// @notice A sterile-class product's batch is market-released only once the MAH approved its retained samples.
    error RetainedSamplesNotApproved(bytes32 batchId);

    /// @notice Binds the batch ledger whose batches this contract checks; once, by the deployer.
    function bindBatchLedger(address batchLedger) external;

    /// @notice The MAH names a responsible person for one of its products.
    function appointPerson(PersonAppointment calldata appointment, bytes calldata signature) external;

    /// @notice The MAH revokes a responsible person's appointment.
    function revokePerson(PersonRevocation calldata revocation, bytes calldata signature) external;

    /// @notice The MAH records a product's risk class (once): sterile classes switch on sterile records.
    function classifyProduct(RiskClassification calldata classification, bytes calldata signature) external;

    /// @notice The CMO references a sterile batch's environmental-monitoring and cleaning records.
    function referenceSterileRecords(SterileRecords calldata records, bytes calldata signature) external;

    /// @notice A contract laboratory certifies a batch's release testing (passed or failed), once.
    function issueTestCertificate(TestCertificate calldata certificate, bytes calldata signature) external;

    /// @notice The MAH files a product's quarterly quality review with its risk assessment.
    function fileQualityReview(QualityReview calldata review, bytes calldata signature) external;

    /// @notice The MAH records the channels and response time its quality agreement sets for notices (again: the
    /// CMO's countersignature is then needed anew).
    function agreeCommunicationTerms(CommunicationTerms calldata terms, bytes calldata signature) external;

    /// @notice The CMO countersigns the communication terms the MAH recorded; notices need both signatures.
    function countersignCommunicationTerms(TermsCountersignature calldata countersignature, bytes calldata signature)
        external;

    /// @notice A regulator or the product's MAH lists a product as a shortage drug, or delists it.
    function changeShortageListing(ShortageListing calldata listing, bytes calldata signature) external;

    /// @notice The MAH reports the planned stop of a shortage-listed product's production, before the stop.
    function reportStopProduction(StopProductionReport calldata report, bytes calldata signature) external;

    /// @notice The batch's CMO records its retained samples, once.
    function recordRetainedSamples(RetainedSamples calldata samples, bytes calldata signature) external;

    /// @notice The batch's MAH approves the retained samples its CMO recorded, once.
    function approveRetainedSamples(RetainedSampleApproval calldata approval, bytes calldata signature) external;

    /// @notice A party sends the other a notice (change control, deviation, complaint, audit finding); its id is
    /// keccak256(abi.encode(senderId, nonce)).
    function sendNotice(QualityNotice calldata notice, bytes calldata signature) external returns (bytes32 noticeId);

    /// @notice The addressee acknowledges a notice, once.
    function acknowledgeNotice(NoticeAcknowledgement calldata acknowledgement, bytes calldata signature) external;

    function notice(bytes32 noticeId) external view returns (Notice memory);

    /// @notice Called by the batch ledger when a batch is recorded: fixes what its release must show.
    /// @return checked Whether the batch's releases must be checked here.
    function recordBatchDuties(bytes32 batchId, bytes32 productId, uint32 mahId, uint32 cmoId, bool certificateRequired)
        external
        returns (bool checked);

    /// @notice Reverts unless a checked batch may be released from the factory.
    function checkFactoryRelease(bytes32 batchId) external view;

    /// @notice Reverts unless `signer`, stating `signerRole` and `signerName`, may sign a checked batch's market
    /// release: where the product names a QP, the signer must be a current one and state its appointed role and name.
    /// @return personSigns Whether a named person must sign (else the MAH's own key, checked by the batch ledger).
    function checkMarketRelease(bytes32 batchId, address signer, PersonRole signerRole, string calldata signerName)
        external
        view
        returns (bool personSigns);

    function batchDuties(bytes32 batchId) external view returns (BatchDuties memory);

    function person(bytes32 productId, address personKey) external view returns (Person memory);

    function riskClass(bytes32 productId) external view returns (RiskClass);

    function isQualityReviewFiled(bytes32 productId, uint16 year, uint8 quarter) external view returns (bool);

    function communicationTerms(bytes32 agreementId) external view returns (AgreedTerms memory);

    function isShortageListed(bytes32 productId) external view returns (bool);

    /// @notice The stop date of the MAH's latest stop-production report for the product (0 if none).
    function reportedStopAt(bytes32 productId) external view returns (uint40);

    function retainedSamples(bytes32 batchId) external view returns (SampleState memory);
}
