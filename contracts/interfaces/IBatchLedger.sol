// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAttestations} from "./IAttestations.sol";
import {IConsortiumRegistry} from "./IConsortiumRegistry.sol";
import {IProductRegistry} from "./IProductRegistry.sol";
import {IQualityDuties} from "./IQualityDuties.sol";

/// @title Batch ledger: manufacture, release, custody and recall of medicine batches
/// @notice Every step is an attestation signed by the organization that takes it. A batch's serial codes stay off
/// chain; their Merkle root is committed when the batch is recorded. Quantity is conserved: what the CMO made is
/// always held, in transit, dispensed, destroyed or reported missing on receipt.
interface IBatchLedger is IAttestations {
    /// @dev The release steps a batch has passed, in order. A recall is tracked beside it.
    enum BatchState {
        None,
        Manufactured,
        FactoryReleased,
        MarketReleased,
        /// The MAH refused market release: the batch is to be destroyed and never enters commerce.
        Rejected
    }

    enum RecallStatus {
        None,
        Open,
        Closed
    }

    /// @dev Level I is the most severe (NMPA recall rules): holders are notified and report fastest.
    enum RecallLevel {
        None,
        I,
        II,
        III
    }

    enum DeviationKind {
        None,
        Deviation,
        OutOfSpecification,
        OutOfTrend
    }

    enum DeviationStatus {
        None,
        Open,
        Closed
    }

    /// @dev A major or critical deviation is closed only by the batch's MAH.
    enum DeviationSeverity {
        None,
        Minor,
        Major,
        Critical
    }

    /// @dev Where in the GMP system a deviation arose.
    enum DeviationCategory {
        None,
        Process,
        Equipment,
        Materials,
        Environment,
        Laboratory,
        Documentation,
        Personnel,
        PackagingLabelling,
        StorageTransport,
        Other
    }

    /// @dev The investigation's finding, by the usual six causes (people, machine, material, method, environment,
    /// measurement), or that none could be determined.
    enum RootCause {
        None,
        People,
        Machine,
        Material,
        Method,
        Environment,
        Measurement,
        NotDetermined
    }

    /// @dev What a closed deviation means for its batch.
    enum BatchImpact {
        None,
        NoImpact,
        Reworked,
        Rejected,
        ReleasedWithJustification
    }

    /// @dev One storage slot per deviation: its state and the severity it was reported with.
    struct Deviation {
        DeviationStatus status;
        DeviationSeverity severity;
    }

    /// @dev A pack's state, one at a time, as in the EU medicines verification system. Active is in the supply chain;
    /// Dispensed, Destroyed, Stolen, Sample and Exported leave the holder's stock; Locked (suspect) stays in it but
    /// may not be dispensed until unlocked.
    enum PackState {
        Active,
        Dispensed,
        Destroyed,
        Stolen,
        Sample,
        Exported,
        Locked
    }

    /// @dev One storage slot per pack: its state, the organization that set it and when (for undoing it).
    struct PackRecord {
        PackState state;
        uint32 organizationId;
        uint40 changedAt;
    }

    /// @dev One storage slot: everything the rules check on every step of a batch.
    struct Batch {
        BatchState state;
        RecallStatus recall;
        RecallLevel recallLevel;
        uint16 openDeviations;
        uint32 mahId;
        uint32 cmoId;
        /// Organizations holding a non-zero quantity.
        uint32 holders;
        /// While a recall is open: holders that have not acknowledged their current holding.
        uint32 unacknowledgedHolders;
        uint32 shipmentsInTransit;
        uint40 expiresAt;
        /// Quarantined short of a recall: nothing ships, is dispensed or released until the MAH lifts the hold.
        bool onHold;
        /// Its product's quality duties (QualityDuties) check its releases.
        bool qualityChecked;
    }

    struct Holding {
        uint64 quantity;
        /// Whether the holder acknowledged the open recall for this quantity.
        bool recallAcknowledged;
    }

    /// @notice The CMO's record of a manufactured batch, under a quality agreement for the product.
    struct BatchRecord {
        uint32 cmoId;
        uint256 nonce;
        bytes32 agreementId;
        string batchNumber;
        uint64 quantity;
        uint40 manufacturedAt;
        /// The batch's last valid second; a date-only expiry is 23:59:59 China time (UTC+8) that day, as GS1 (17).
        uint40 expiresAt;
        bytes32 batchRecordHash;
        bytes32 codesRoot;
    }

    /// @notice A deviation, OOS or OOT result reported with its severity and category; the report document's hash.
    struct DeviationReport {
        uint32 organizationId;
        uint256 nonce;
        bytes32 batchId;
        DeviationKind kind;
        DeviationSeverity severity;
        DeviationCategory category;
        bytes32 reportHash;
    }

    /// @notice The investigation's conclusion: root cause, impact on the batch and the closure document's hash.
    struct DeviationClosure {
        uint32 organizationId;
        uint256 nonce;
        bytes32 batchId;
        bytes32 reportHash;
        RootCause rootCause;
        BatchImpact batchImpact;
        bytes32 closureHash;
    }

    struct FactoryRelease {
        uint32 cmoId;
        uint256 nonce;
        bytes32 batchId;
        bytes32 certificateHash;
    }

    /// @notice The MAH's QA releases a batch to market. `signerRole` and `signerName` say who signs: the product's
    /// quality authorized person as appointed in QualityDuties, or `Organization` with no name for the MAH's own key
    /// where the product names no QP.
    struct MarketRelease {
        uint32 mahId;
        uint256 nonce;
        bytes32 batchId;
        bytes32 decisionHash;
        IQualityDuties.PersonRole signerRole;
        string signerName;
    }

    /// @notice The MAH's QA refuses market release: the batch is rejected, to be destroyed. `reasonHash` is the hash
    /// of the signed reasons (stored off the ledger).
    struct ReleaseRefusal {
        uint32 mahId;
        uint256 nonce;
        bytes32 batchId;
        bytes32 reasonHash;
    }

    /// @notice A hand-over of `quantity` to `recipientId`; `codesRoot` optionally commits the shipped codes.
    struct Shipment {
        uint32 shipperId;
        uint256 nonce;
        bytes32 batchId;
        uint32 recipientId;
        uint64 quantity;
        bytes32 codesRoot;
    }

    /// @notice The addressee's receipt; `receivedQuantity` below `shippedQuantity` records a shortfall.
    struct Receipt {
        uint32 recipientId;
        uint256 nonce;
        bytes32 shipmentId;
        bytes32 batchId;
        uint32 shipperId;
        uint64 shippedQuantity;
        uint64 receivedQuantity;
    }

    /// @notice A dispenser decommissions packs, each named by its pack id: keccak256(abi.encode(code)) of the pack's
    /// canonical code, whose hash is the pack's leaf in the batch's OpenZeppelin standard Merkle tree.
    struct Dispensing {
        uint32 dispenserId;
        uint256 nonce;
        bytes32 batchId;
        bytes32[] packs;
    }

    /// @notice An organization sets the state of packs of a batch, each named by its pack id as in {Dispensing},
    /// with a multiproof against the batch's codes root. `state` Active undoes the organization's own Dispensed,
    /// Sample or Exported within the undo window, or its Locked at any time.
    struct PackStateChange {
        uint32 organizationId;
        uint256 nonce;
        bytes32 batchId;
        PackState state;
        bytes32[] packs;
        bytes32 reasonHash;
    }

    struct Destruction {
        uint32 holderId;
        uint256 nonce;
        bytes32 batchId;
        uint64 quantity;
        bytes32 reasonHash;
    }

    /// @notice The batch's MAH or a regulator holds the batch (quarantine short of a recall) while a quality question
    /// is open; `reasonHash` names the document saying why.
    struct HoldPlacement {
        uint32 organizationId;
        uint256 nonce;
        bytes32 batchId;
        bytes32 reasonHash;
    }

    /// @notice The batch's MAH lifts the hold, with the decision's document: the batch may move again.
    struct HoldRelease {
        uint32 mahId;
        uint256 nonce;
        bytes32 batchId;
        bytes32 reasonHash;
    }

    struct RecallStart {
        uint32 organizationId;
        uint256 nonce;
        bytes32 batchId;
        RecallLevel level;
        bytes32 reasonHash;
    }

    /// @notice A holder's account of its whole holding when it acknowledges a recall: what it quarantined, and what is
    /// no longer there because it was already dispensed, destroyed or cannot be found. The four add up to the holding.
    struct RecallAcknowledgement {
        uint32 holderId;
        uint256 nonce;
        bytes32 batchId;
        uint64 quarantinedQuantity;
        uint64 dispensedQuantity;
        uint64 destroyedQuantity;
        uint64 missingQuantity;
    }

    struct RecallClosure {
        uint32 mahId;
        uint256 nonce;
        bytes32 batchId;
        bytes32 reportHash;
    }

    event BatchRecorded(
        bytes32 indexed batchId,
        bytes32 indexed productId,
        uint32 indexed cmoId,
        uint32 mahId,
        BatchRecord record,
        address signer,
        bytes signature
    );
    /// @param placesOnHold The deviation was opened on a market-released batch, which it placed on hold.
    event DeviationOpened(
        bytes32 indexed batchId,
        uint32 indexed organizationId,
        DeviationReport report,
        bool placesOnHold,
        address signer,
        bytes signature
    );
    event DeviationClosed(
        bytes32 indexed batchId,
        uint32 indexed organizationId,
        DeviationClosure closure,
        address signer,
        bytes signature
    );
    event BatchFactoryReleased(
        bytes32 indexed batchId, uint32 indexed cmoId, FactoryRelease release, address signer, bytes signature
    );
    event BatchMarketReleased(
        bytes32 indexed batchId, uint32 indexed mahId, MarketRelease release, address signer, bytes signature
    );
    event BatchReleaseRefused(
        bytes32 indexed batchId, uint32 indexed mahId, ReleaseRefusal refusal, address signer, bytes signature
    );
    event BatchShipped(
        bytes32 indexed shipmentId,
        bytes32 indexed batchId,
        uint32 indexed shipperId,
        Shipment shipment,
        address signer,
        bytes signature
    );
    event ShipmentReceived(
        bytes32 indexed shipmentId,
        bytes32 indexed batchId,
        uint32 indexed recipientId,
        Receipt receipt,
        address signer,
        bytes signature
    );
    event PacksDispensed(
        bytes32 indexed batchId, uint32 indexed dispenserId, Dispensing dispensing, address signer, bytes signature
    );
    event PackStatesChanged(
        bytes32 indexed batchId,
        uint32 indexed organizationId,
        PackState indexed state,
        PackStateChange change,
        address signer,
        bytes signature
    );
    event StockDestroyed(
        bytes32 indexed batchId, uint32 indexed holderId, Destruction destruction, address signer, bytes signature
    );
    event BatchPlacedOnHold(
        bytes32 indexed batchId, uint32 indexed organizationId, HoldPlacement placement, address signer, bytes signature
    );
    event BatchHoldReleased(
        bytes32 indexed batchId, uint32 indexed mahId, HoldRelease release, address signer, bytes signature
    );
    event RecallStarted(
        bytes32 indexed batchId,
        uint32 indexed organizationId,
        RecallLevel indexed level,
        RecallStart recall,
        address signer,
        bytes signature
    );
    event RecallAcknowledged(
        bytes32 indexed batchId,
        uint32 indexed holderId,
        RecallAcknowledgement acknowledgement,
        address signer,
        bytes signature
    );
    event RecallClosed(
        bytes32 indexed batchId, uint32 indexed mahId, RecallClosure closure, address signer, bytes signature
    );

    /// @dev A market release not signed by a named person must say so: role `Organization`, no name.
    error ReleaseSignerNotOrganization(bytes32 batchId, IQualityDuties.PersonRole signerRole, string signerName);
    error UnknownAgreement(bytes32 agreementId);
    error NotQualityAgreement(bytes32 agreementId);
    error NotAgreementCounterparty(bytes32 agreementId, uint32 organizationId);
    error RevokedAgreement(bytes32 agreementId);
    error AgreementNotInForce(bytes32 agreementId, uint40 validFrom, uint40 validUntil);
    /// @notice A quality agreement across provinces is not in force until both provinces' regulators reviewed it.
    error AgreementAwaitingApproval(bytes32 agreementId, IProductRegistry.CrossProvinceApproval approval);
    /// @notice A batch number is 1 to 20 characters (the GS1 batch/lot field).
    error InvalidBatchNumber(string batchNumber);
    /// @notice Manufactured in the future, already expired when recorded, or expiring no later than it was made.
    error InvalidBatchDates(uint40 manufacturedAt, uint40 expiresAt);
    error EmptyCodesRoot();
    error ZeroQuantity();
    error BatchAlreadyRecorded(bytes32 batchId);
    error UnknownBatch(bytes32 batchId);
    error NotBatchParty(bytes32 batchId, uint32 organizationId);
    error NotBatchCmo(bytes32 batchId, uint32 organizationId);
    error NotBatchMah(bytes32 batchId, uint32 organizationId);
    error InvalidDeviationKind();
    /// @notice A deviation is reported with a severity and a category.
    error DeviationNotClassified(DeviationSeverity severity, DeviationCategory category);
    /// @notice A deviation is closed with its root cause and its impact on the batch.
    error DeviationConclusionMissing(RootCause rootCause, BatchImpact batchImpact);
    /// @notice A major or critical deviation is closed only with the batch's MAH's signature.
    error DeviationClosureNeedsMah(bytes32 batchId, bytes32 reportHash, DeviationSeverity severity, uint32 organizationId);
    error DeviationAlreadyReported(bytes32 batchId, bytes32 reportHash);
    error DeviationNotOpen(bytes32 batchId, bytes32 reportHash);
    error BatchStateMismatch(bytes32 batchId, BatchState state, BatchState required);
    error BatchHasOpenDeviations(bytes32 batchId, uint16 openDeviations);
    error BatchExpired(bytes32 batchId, uint40 expiresAt);
    error BatchRecalled(bytes32 batchId);
    /// @notice Its MAH refused the batch market release: it is never released, shipped, sold or dispensed.
    error BatchRejected(bytes32 batchId);
    /// @notice The batch is on hold: it cannot be released to the market, shipped or dispensed until its MAH
    /// releases the hold or it is recalled.
    error BatchOnHold(bytes32 batchId);
    /// @notice Only the batch's MAH or a regulator places a hold.
    error NotHoldAuthority(bytes32 batchId, uint32 organizationId);
    error BatchAlreadyOnHold(bytes32 batchId);
    error BatchNotOnHold(bytes32 batchId);
    error InsufficientHolding(bytes32 batchId, uint32 organizationId, uint64 held, uint64 requested);
    error ShipmentToSelf(uint32 organizationId);
    /// @notice Regulators do not hold stock.
    error RecipientCannotHold(uint32 recipientId, IConsortiumRegistry.Role role);
    /// @notice No such shipment is in transit: it was never sent or was already received.
    error ShipmentNotInTransit(bytes32 shipmentId);
    error NotShipmentAddressee(bytes32 shipmentId, uint32 addresseeId, uint32 organizationId);
    /// @notice The receipt's batch, shipper or quantity differ from what was shipped.
    error ShipmentDetailsMismatch(bytes32 shipmentId);
    error ReceivedQuantityExceedsShipped(bytes32 shipmentId, uint64 shipped, uint64 received);
    error NoPacks();
    /// @notice The multiproof does not show that every pack belongs to the batch's committed codes.
    error PacksNotInBatch(bytes32 batchId);
    error PackAlreadyDispensed(bytes32 pack);
    /// @notice The pack already has a state other than Active; it has one state at a time.
    error PackNotActive(bytes32 pack, PackState state);
    /// @notice Only the organization that set a pack's state may undo it.
    error NotPackStateSetter(bytes32 pack, uint32 setterId, uint32 organizationId);
    /// @notice A destroyed or stolen pack never returns to the supply chain; an active one has nothing to undo.
    error PackStateIrreversible(bytes32 pack, PackState state);
    /// @notice A dispensing, sample or export is undone only within the deployment's undo window.
    error UndoWindowClosed(bytes32 pack, uint40 changedAt, uint40 undoWindow);
    /// @notice The pack's lock is held by a suspect-product report (AlertCases) until a regulator terminates it.
    error PackLockHeldByReport(bytes32 pack);
    error NotDeployer(address caller);
    error AlertCasesAlreadyBound(address alertCases);
    /// @notice Only a holder of the batch, its MAH or a regulator locks a pack as suspect.
    error NotPackCustodian(bytes32 batchId, uint32 organizationId);
    error InvalidRecallLevel();
    /// @notice Only the batch's MAH or a regulator starts a recall.
    error NotRecallAuthority(bytes32 batchId, uint32 organizationId);
    error RecallAlreadyStarted(bytes32 batchId);
    error RecallNotOpen(bytes32 batchId);
    error NotBatchHolder(bytes32 batchId, uint32 organizationId);
    error RecallAlreadyAcknowledged(bytes32 batchId, uint32 organizationId);
    /// @notice A recall acknowledgement accounts for every unit held: quarantined + dispensed + destroyed + missing
    /// must equal the holding.
    error AcknowledgementDoesNotAddUp(bytes32 batchId, uint32 organizationId, uint64 held, uint256 accounted);
    error RecallNotReconciled(bytes32 batchId, uint32 unacknowledgedHolders, uint32 shipmentsInTransit);

    /// @notice The CMO records a batch it made under a quality agreement in force; it holds the whole quantity.
    /// Gas does not depend on the number of codes: only their Merkle root is stored.
    /// @return batchId keccak256(abi.encode(productId, batchNumber)).
    function recordBatch(BatchRecord calldata record, bytes calldata signature) external returns (bytes32 batchId);

    /// @notice The batch's MAH or CMO opens a deviation, OOS or OOT investigation, named by its report hash. On a
    /// market-released batch that is neither recalled nor already held, it places the batch on hold.
    function openDeviation(DeviationReport calldata report, bytes calldata signature) external;

    /// @notice The batch's MAH or CMO closes an open deviation with its root cause, its impact on the batch and the
    /// closure report's hash; a major or critical one only the MAH.
    function closeDeviation(DeviationClosure calldata closure, bytes calldata signature) external;

    /// @notice The CMO's QA releases the batch from the factory; refused while a deviation is open.
    function releaseFromFactory(FactoryRelease calldata release, bytes calldata signature) external;

    /// @notice The MAH's QA releases the batch to the market: only after factory release, with no open deviation,
    /// before expiry and unless recalled.
    function releaseToMarket(MarketRelease calldata release, bytes calldata signature) external;

    /// @notice The MAH's QA refuses market release of a batch not yet released to the market (open deviations or
    /// not): the batch becomes Rejected, to be destroyed, and every later release, shipment or dispensing of it
    /// fails with {BatchRejected}. Its holder may still destroy the stock.
    function refuseRelease(ReleaseRefusal calldata refusal, bytes calldata signature) external;

    /// @notice A holder ships part of its holding of a market-released, unrecalled batch to another organization.
    /// @return shipmentId keccak256(abi.encode(shipperId, nonce)).
    function shipBatch(Shipment calldata shipment, bytes calldata signature) external returns (bytes32 shipmentId);

    /// @notice The addressee receives a shipment, once; any shortfall is recorded as missing. The receipt consumes
    /// the shipment, so a replay fails with {ShipmentNotInTransit} and the receipt's nonce is not spent.
    function receiveShipment(Receipt calldata receipt, bytes calldata signature) external;

    /// @notice A dispenser decommissions packs it holds; each pack is proven part of the batch and dispensed once.
    /// @param proof,proofFlags An OpenZeppelin multiproof of the packs' leaves against the batch's codes root, with
    /// `dispensing.packs` in the multiproof's leaf order.
    function dispensePacks(
        Dispensing calldata dispensing,
        bytes32[] calldata proof,
        bool[] calldata proofFlags,
        bytes calldata signature
    ) external;

    /// @notice Sets the state of packs of a batch (see {PackState}); each is proven part of the batch. Dispensed
    /// (by a dispenser), Destroyed, Stolen, Sample and Exported take the packs out of the organization's holding;
    /// Dispensed and Exported only while the batch is in commerce, Dispensed only before expiry. Locked, by a holder,
    /// the MAH or a regulator, moves no stock. Active undoes: the setter's own Dispensed, Sample or Exported within
    /// `undoWindow()` of it, returning the packs to its holding (not for an expired or recalled batch), or its Locked.
    /// Destroyed and Stolen are final.
    function changePackStates(
        PackStateChange calldata change,
        bytes32[] calldata proof,
        bool[] calldata proofFlags,
        bytes calldata signature
    ) external;

    /// @notice A holder records the destruction of part of its holding (damaged, expired, or recalled stock).
    function destroyStock(Destruction calldata destruction, bytes calldata signature) external;

    /// @notice The batch's MAH or a regulator places the batch on hold: release to the market, shipping and
    /// dispensing stop until the MAH releases the hold or the batch is recalled. Opening a deviation on a
    /// market-released batch places it on hold too.
    function placeHold(HoldPlacement calldata placement, bytes calldata signature) external;

    /// @notice The batch's MAH releases the hold, once every deviation of the batch is closed.
    function releaseHold(HoldRelease calldata release, bytes calldata signature) external;

    /// @notice The batch's MAH starts, or a regulator orders, a recall: shipping and dispensing stop at once and
    /// every holder must acknowledge. A recall ends the batch's hold (escalation).
    function startRecall(RecallStart calldata recall, bytes calldata signature) external;

    /// @notice A holder acknowledges the open recall, accounting for its whole holding: quarantined, already dispensed,
    /// destroyed and missing. What is not quarantined leaves the holding (dispensed, destroyed or missing), so the
    /// holding is then the quarantined stock and quantity stays conserved.
    function acknowledgeRecall(RecallAcknowledgement calldata acknowledgement, bytes calldata signature) external;

    /// @notice The MAH closes the recall once every unit is accounted for: every holder has acknowledged its current
    /// holding and nothing is in transit.
    function closeRecall(RecallClosure calldata closure, bytes calldata signature) external;

    function batch(bytes32 batchId) external view returns (Batch memory);

    function holding(bytes32 batchId, uint32 organizationId) external view returns (Holding memory);

    function codesRoot(bytes32 batchId) external view returns (bytes32);

    function deviationStatus(bytes32 batchId, bytes32 reportHash) external view returns (DeviationStatus);

    /// @notice Whether a shipment was sent and not yet received.
    function isInTransit(bytes32 shipmentId) external view returns (bool);

    /// @notice Whether the pack with id `pack` (keccak256(abi.encode(code))) is in the batch's committed codes.
    function isPackOfBatch(bytes32 batchId, bytes32 pack, bytes32[] calldata proof) external view returns (bool);

    function isPackDispensed(bytes32 pack) external view returns (bool);

    function packRecord(bytes32 pack) external view returns (PackRecord memory);

    /// @notice Seconds after a dispensing, sample or export within which its setter may undo it (set at deployment).
    function undoWindow() external view returns (uint40);

    /// @notice Binds the AlertCases contract whose suspect-product reports hold pack locks; once, by the deployer.
    function bindAlertCases(address alertCases) external;

    function batchId(bytes32 productId, string calldata batchNumber) external pure returns (bytes32);

    function shipmentId(uint32 shipperId, uint256 nonce) external pure returns (bytes32);
}
