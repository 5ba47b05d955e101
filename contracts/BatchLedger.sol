// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Multicall} from "@openzeppelin/contracts/utils/Multicall.sol";
import {Attestations} from "./Attestations.sol";
import {IAlertCases} from "./interfaces/IAlertCases.sol";
import {IBatchLedger} from "./interfaces/IBatchLedger.sol";
import {IConsortiumRegistry} from "./interfaces/IConsortiumRegistry.sol";
import {IProductRegistry} from "./interfaces/IProductRegistry.sol";
import {IQualityDuties} from "./interfaces/IQualityDuties.sol";

/// @title Batch ledger
/// @dev Release, custody and recall share one contract because they share state that every step checks: a
/// shipment needs the release state and the recall, a receipt during a recall changes who must acknowledge it.
/// Splitting them would turn each of those reads into a cross-contract call the gas targets cannot afford.
contract BatchLedger is IBatchLedger, Attestations, Multicall {
    bytes32 private constant BATCH_RECORD_TYPEHASH = keccak256(
        "BatchRecord(uint32 cmoId,uint256 nonce,bytes32 agreementId,string batchNumber,uint64 quantity,uint40 manufacturedAt,uint40 expiresAt,bytes32 batchRecordHash,bytes32 codesRoot)"
    );
    bytes32 private constant DEVIATION_REPORT_TYPEHASH = keccak256(
        "DeviationReport(uint32 organizationId,uint256 nonce,bytes32 batchId,uint8 kind,uint8 severity,uint8 category,bytes32 reportHash)"
    );
    bytes32 private constant DEVIATION_CLOSURE_TYPEHASH = keccak256(
        "DeviationClosure(uint32 organizationId,uint256 nonce,bytes32 batchId,bytes32 reportHash,uint8 rootCause,uint8 batchImpact,bytes32 closureHash)"
    );
    bytes32 private constant FACTORY_RELEASE_TYPEHASH =
        keccak256("FactoryRelease(uint32 cmoId,uint256 nonce,bytes32 batchId,bytes32 certificateHash)");
    bytes32 private constant MARKET_RELEASE_TYPEHASH =
        keccak256(
            "MarketRelease(uint32 mahId,uint256 nonce,bytes32 batchId,bytes32 decisionHash,uint8 signerRole,string signerName)"
        );
    bytes32 private constant RELEASE_REFUSAL_TYPEHASH =
        keccak256("ReleaseRefusal(uint32 mahId,uint256 nonce,bytes32 batchId,bytes32 reasonHash)");
    bytes32 private constant SHIPMENT_TYPEHASH = keccak256(
        "Shipment(uint32 shipperId,uint256 nonce,bytes32 batchId,uint32 recipientId,uint64 quantity,bytes32 codesRoot)"
    );
    bytes32 private constant RECEIPT_TYPEHASH = keccak256(
        "Receipt(uint32 recipientId,uint256 nonce,bytes32 shipmentId,bytes32 batchId,uint32 shipperId,uint64 shippedQuantity,uint64 receivedQuantity)"
    );
    bytes32 private constant DISPENSING_TYPEHASH =
        keccak256("Dispensing(uint32 dispenserId,uint256 nonce,bytes32 batchId,bytes32[] packs)");
    bytes32 private constant PACK_STATE_CHANGE_TYPEHASH = keccak256(
        "PackStateChange(uint32 organizationId,uint256 nonce,bytes32 batchId,uint8 state,bytes32[] packs,bytes32 reasonHash)"
    );
    bytes32 private constant DESTRUCTION_TYPEHASH = keccak256(
        "Destruction(uint32 holderId,uint256 nonce,bytes32 batchId,uint64 quantity,bytes32 reasonHash)"
    );
    bytes32 private constant HOLD_PLACEMENT_TYPEHASH =
        keccak256("HoldPlacement(uint32 organizationId,uint256 nonce,bytes32 batchId,bytes32 reasonHash)");
    bytes32 private constant HOLD_RELEASE_TYPEHASH =
        keccak256("HoldRelease(uint32 mahId,uint256 nonce,bytes32 batchId,bytes32 reasonHash)");
    bytes32 private constant RECALL_START_TYPEHASH = keccak256(
        "RecallStart(uint32 organizationId,uint256 nonce,bytes32 batchId,uint8 level,bytes32 reasonHash)"
    );
    bytes32 private constant RECALL_ACKNOWLEDGEMENT_TYPEHASH = keccak256(
        "RecallAcknowledgement(uint32 holderId,uint256 nonce,bytes32 batchId,uint64 quarantinedQuantity,uint64 dispensedQuantity,uint64 destroyedQuantity,uint64 missingQuantity)"
    );
    bytes32 private constant RECALL_CLOSURE_TYPEHASH =
        keccak256("RecallClosure(uint32 mahId,uint256 nonce,bytes32 batchId,bytes32 reportHash)");

    uint256 private constant MAX_BATCH_NUMBER_LENGTH = 20;

    IConsortiumRegistry private immutable _registry;
    IProductRegistry private immutable _products;
    IQualityDuties private immutable _qualityDuties;
    uint40 private immutable _undoWindow;
    address private immutable _deployer;
    /// @dev Bound after deployment: AlertCases reads this ledger, so neither can name the other in its constructor.
    IAlertCases private _alertCases;

    mapping(bytes32 batchId => Batch) private _batches;
    mapping(bytes32 batchId => bytes32 root) private _codesRoots;
    mapping(bytes32 batchId => mapping(bytes32 reportHash => Deviation)) private _deviations;
    mapping(bytes32 batchId => mapping(uint32 organizationId => Holding)) private _holdings;
    /// @dev A shipment in transit is one word: the addressee in the top 32 bits, and 224 bits of the hash of
    /// (batch, shipper, quantity) below, so that a receipt is checked without storing those fields. Zero once
    /// received; shipment ids derive from the shipper's single-use nonce and never recur.
    mapping(bytes32 shipmentId => bytes32 consignment) private _shipments;
    /// @dev Pack ids are unique across batches (each hashes its product's code and serial), so one mapping serves all.
    mapping(bytes32 pack => PackRecord) private _packs;

    /// @param undoWindow_ Seconds within which a dispensing, sample or export may be undone by its setter.
    constructor(IConsortiumRegistry registry, IProductRegistry products, IQualityDuties qualityDuties, uint40 undoWindow_)
        Attestations("BatchLedger")
    {
        _registry = registry;
        _products = products;
        _qualityDuties = qualityDuties;
        _undoWindow = undoWindow_;
        _deployer = msg.sender;
    }

    /// @inheritdoc IBatchLedger
    function bindAlertCases(address alertCases) external {
        if (msg.sender != _deployer) revert NotDeployer(msg.sender);
        if (address(_alertCases) != address(0)) revert AlertCasesAlreadyBound(address(_alertCases));
        _alertCases = IAlertCases(alertCases);
    }

    // ----- manufacture and release -----

    /// @inheritdoc IBatchLedger
    function recordBatch(BatchRecord calldata record, bytes calldata signature) external returns (bytes32 id) {
        address signer = _attestAs(
            IConsortiumRegistry.Role.Cmo, _hashBatchRecord(record), record.cmoId, record.nonce, signature
        );
        IProductRegistry.AgreementTerms memory terms = _products.agreementTerms(record.agreementId);
        _checkQualityAgreement(record.agreementId, terms, record.cmoId);
        _checkBatchRecord(record);
        id = batchId(terms.productId, record.batchNumber);
        Batch storage recorded = _batches[id];
        if (recorded.state != BatchState.None) revert BatchAlreadyRecorded(id);
        recorded.state = BatchState.Manufactured;
        recorded.mahId = terms.mahId;
        recorded.cmoId = record.cmoId;
        recorded.expiresAt = record.expiresAt;
        recorded.holders = 1;
        recorded.qualityChecked = _qualityDuties.recordBatchDuties(
            id, terms.productId, terms.mahId, record.cmoId, terms.releaseTester == IProductRegistry.ReleaseTester.ContractLaboratory
        );
        _codesRoots[id] = record.codesRoot;
        _holdings[id][record.cmoId].quantity = record.quantity;
        emit BatchRecorded(id, terms.productId, record.cmoId, terms.mahId, record, signer, signature);
    }

    /// @inheritdoc IBatchLedger
    function openDeviation(DeviationReport calldata report, bytes calldata signature) external {
        bytes32 structHash = keccak256(
            abi.encode(
                DEVIATION_REPORT_TYPEHASH,
                report.organizationId,
                report.nonce,
                report.batchId,
                report.kind,
                report.severity,
                report.category,
                report.reportHash
            )
        );
        (, address signer) = _attest(structHash, report.organizationId, report.nonce, signature);
        Batch storage subject = _batchOfParty(report.batchId, report.organizationId);
        if (report.kind == DeviationKind.None) revert InvalidDeviationKind();
        if (report.severity == DeviationSeverity.None || report.category == DeviationCategory.None) {
            revert DeviationNotClassified(report.severity, report.category);
        }
        Deviation storage deviation = _deviations[report.batchId][report.reportHash];
        if (deviation.status != DeviationStatus.None) revert DeviationAlreadyReported(report.batchId, report.reportHash);
        deviation.status = DeviationStatus.Open;
        deviation.severity = report.severity;
        subject.openDeviations += 1;
        // A quality question about stock already on the market stops it at once, short of a recall; before market
        // release the open deviation itself blocks release.
        bool placesOnHold =
            subject.state == BatchState.MarketReleased && subject.recall == RecallStatus.None && !subject.onHold;
        if (placesOnHold) subject.onHold = true;
        emit DeviationOpened(report.batchId, report.organizationId, report, placesOnHold, signer, signature);
    }

    /// @inheritdoc IBatchLedger
    function closeDeviation(DeviationClosure calldata closure, bytes calldata signature) external {
        bytes32 structHash = keccak256(
            abi.encode(
                DEVIATION_CLOSURE_TYPEHASH,
                closure.organizationId,
                closure.nonce,
                closure.batchId,
                closure.reportHash,
                closure.rootCause,
                closure.batchImpact,
                closure.closureHash
            )
        );
        (, address signer) = _attest(structHash, closure.organizationId, closure.nonce, signature);
        Batch storage subject = _batchOfParty(closure.batchId, closure.organizationId);
        Deviation storage deviation = _deviations[closure.batchId][closure.reportHash];
        if (deviation.status != DeviationStatus.Open) revert DeviationNotOpen(closure.batchId, closure.reportHash);
        if (closure.rootCause == RootCause.None || closure.batchImpact == BatchImpact.None) {
            revert DeviationConclusionMissing(closure.rootCause, closure.batchImpact);
        }
        // The MAH answers for the product's quality (its QA signs market release): the CMO does not settle on its
        // own a deviation that may affect patients.
        if (deviation.severity >= DeviationSeverity.Major && closure.organizationId != subject.mahId) {
            revert DeviationClosureNeedsMah(closure.batchId, closure.reportHash, deviation.severity, closure.organizationId);
        }
        deviation.status = DeviationStatus.Closed;
        subject.openDeviations -= 1;
        emit DeviationClosed(closure.batchId, closure.organizationId, closure, signer, signature);
    }

    /// @inheritdoc IBatchLedger
    function releaseFromFactory(FactoryRelease calldata release, bytes calldata signature) external {
        bytes32 structHash = keccak256(
            abi.encode(FACTORY_RELEASE_TYPEHASH, release.cmoId, release.nonce, release.batchId, release.certificateHash)
        );
        (, address signer) = _attest(structHash, release.cmoId, release.nonce, signature);
        Batch storage subject = _recorded(release.batchId);
        if (release.cmoId != subject.cmoId) revert NotBatchCmo(release.batchId, release.cmoId);
        _checkReleasable(release.batchId, subject, BatchState.Manufactured);
        if (subject.qualityChecked) _qualityDuties.checkFactoryRelease(release.batchId);
        subject.state = BatchState.FactoryReleased;
        emit BatchFactoryReleased(release.batchId, release.cmoId, release, signer, signature);
    }

    /// @inheritdoc IBatchLedger
    function releaseToMarket(MarketRelease calldata release, bytes calldata signature) external {
        bytes32 structHash = keccak256(
            abi.encode(
                MARKET_RELEASE_TYPEHASH,
                release.mahId,
                release.nonce,
                release.batchId,
                release.decisionHash,
                release.signerRole,
                keccak256(bytes(release.signerName))
            )
        );
        (, address signer) = _attest(structHash, release.mahId, release.nonce, signature);
        Batch storage subject = _recorded(release.batchId);
        if (release.mahId != subject.mahId) revert NotBatchMah(release.batchId, release.mahId);
        _checkReleasable(release.batchId, subject, BatchState.FactoryReleased);
        _checkNotHeld(release.batchId, subject);
        _checkUnexpired(release.batchId, subject);
        bool personSigns = subject.qualityChecked &&
            _qualityDuties.checkMarketRelease(release.batchId, signer, release.signerRole, release.signerName);
        if (!personSigns) _checkOrganizationSigner(release);
        subject.state = BatchState.MarketReleased;
        emit BatchMarketReleased(release.batchId, release.mahId, release, signer, signature);
    }

    /// @inheritdoc IBatchLedger
    function refuseRelease(ReleaseRefusal calldata refusal, bytes calldata signature) external {
        bytes32 structHash = keccak256(
            abi.encode(RELEASE_REFUSAL_TYPEHASH, refusal.mahId, refusal.nonce, refusal.batchId, refusal.reasonHash)
        );
        (, address signer) = _attest(structHash, refusal.mahId, refusal.nonce, signature);
        Batch storage subject = _recorded(refusal.batchId);
        if (refusal.mahId != subject.mahId) revert NotBatchMah(refusal.batchId, refusal.mahId);
        _checkNotRejected(refusal.batchId, subject);
        // Stock already on the market is withdrawn by a recall, not by a refusal.
        if (subject.state == BatchState.MarketReleased) {
            revert BatchStateMismatch(refusal.batchId, subject.state, BatchState.FactoryReleased);
        }
        subject.state = BatchState.Rejected;
        emit BatchReleaseRefused(refusal.batchId, refusal.mahId, refusal, signer, signature);
    }

    // ----- custody -----

    /// @inheritdoc IBatchLedger
    function shipBatch(Shipment calldata shipment, bytes calldata signature) external returns (bytes32 id) {
        (, address signer) = _attest(_hashShipment(shipment), shipment.shipperId, shipment.nonce, signature);
        Batch storage shipped = _recorded(shipment.batchId);
        _checkInCommerce(shipment.batchId, shipped);
        _checkRecipient(shipment.shipperId, shipment.recipientId);
        if (shipment.quantity == 0) revert ZeroQuantity();
        _debit(shipped, shipment.batchId, shipment.shipperId, shipment.quantity);
        shipped.shipmentsInTransit += 1;
        id = shipmentId(shipment.shipperId, shipment.nonce);
        _shipments[id] = _consignment(shipment.recipientId, shipment.batchId, shipment.shipperId, shipment.quantity);
        emit BatchShipped(id, shipment.batchId, shipment.shipperId, shipment, signer, signature);
    }

    /// @inheritdoc IBatchLedger
    function receiveShipment(Receipt calldata receipt, bytes calldata signature) external {
        address signer = _attestConsuming(_hashReceipt(receipt), receipt.recipientId, signature);
        _checkConsignment(receipt);
        if (receipt.receivedQuantity > receipt.shippedQuantity) {
            revert ReceivedQuantityExceedsShipped(receipt.shipmentId, receipt.shippedQuantity, receipt.receivedQuantity);
        }
        delete _shipments[receipt.shipmentId];
        Batch storage received = _batches[receipt.batchId];
        received.shipmentsInTransit -= 1;
        if (receipt.receivedQuantity != 0) {
            _credit(received, receipt.batchId, receipt.recipientId, receipt.receivedQuantity);
        }
        emit ShipmentReceived(receipt.shipmentId, receipt.batchId, receipt.recipientId, receipt, signer, signature);
    }

    /// @inheritdoc IBatchLedger
    function dispensePacks(
        Dispensing calldata dispensing,
        bytes32[] calldata proof,
        bool[] calldata proofFlags,
        bytes calldata signature
    ) external {
        bytes32 structHash = keccak256(
            abi.encode(
                DISPENSING_TYPEHASH,
                dispensing.dispenserId,
                dispensing.nonce,
                dispensing.batchId,
                keccak256(abi.encodePacked(dispensing.packs))
            )
        );
        address signer = _attestAs(
            IConsortiumRegistry.Role.Dispenser, structHash, dispensing.dispenserId, dispensing.nonce, signature
        );
        Batch storage dispensed = _recorded(dispensing.batchId);
        _checkInCommerce(dispensing.batchId, dispensed);
        _checkUnexpired(dispensing.batchId, dispensed);
        _proveInBatch(dispensing.batchId, dispensing.packs, proof, proofFlags);
        _setPackStates(dispensing.packs, PackState.Dispensed, dispensing.dispenserId);
        _debit(dispensed, dispensing.batchId, dispensing.dispenserId, uint64(dispensing.packs.length));
        emit PacksDispensed(dispensing.batchId, dispensing.dispenserId, dispensing, signer, signature);
    }

    /// @inheritdoc IBatchLedger
    function changePackStates(
        PackStateChange calldata change,
        bytes32[] calldata proof,
        bool[] calldata proofFlags,
        bytes calldata signature
    ) external {
        bytes32 structHash = keccak256(
            abi.encode(
                PACK_STATE_CHANGE_TYPEHASH,
                change.organizationId,
                change.nonce,
                change.batchId,
                change.state,
                keccak256(abi.encodePacked(change.packs)),
                change.reasonHash
            )
        );
        (IConsortiumRegistry.Role role, address signer) =
            _attest(structHash, change.organizationId, change.nonce, signature);
        Batch storage subject = _recorded(change.batchId);
        _proveInBatch(change.batchId, change.packs, proof, proofFlags);
        if (change.state == PackState.Active) {
            _restorePacks(subject, change.batchId, change.organizationId, change.packs);
        } else {
            _checkPackStateChange(subject, change.batchId, change.organizationId, role, change.state);
            _setPackStates(change.packs, change.state, change.organizationId);
            if (change.state != PackState.Locked) {
                _debit(subject, change.batchId, change.organizationId, uint64(change.packs.length));
            }
        }
        emit PackStatesChanged(change.batchId, change.organizationId, change.state, change, signer, signature);
    }

    /// @inheritdoc IBatchLedger
    function destroyStock(Destruction calldata destruction, bytes calldata signature) external {
        bytes32 structHash = keccak256(
            abi.encode(
                DESTRUCTION_TYPEHASH,
                destruction.holderId,
                destruction.nonce,
                destruction.batchId,
                destruction.quantity,
                destruction.reasonHash
            )
        );
        (, address signer) = _attest(structHash, destruction.holderId, destruction.nonce, signature);
        Batch storage destroyed = _recorded(destruction.batchId);
        if (destruction.quantity == 0) revert ZeroQuantity();
        _debit(destroyed, destruction.batchId, destruction.holderId, destruction.quantity);
        emit StockDestroyed(destruction.batchId, destruction.holderId, destruction, signer, signature);
    }

    // ----- hold -----

    /// @inheritdoc IBatchLedger
    function placeHold(HoldPlacement calldata placement, bytes calldata signature) external {
        bytes32 structHash = keccak256(
            abi.encode(
                HOLD_PLACEMENT_TYPEHASH, placement.organizationId, placement.nonce, placement.batchId, placement.reasonHash
            )
        );
        (IConsortiumRegistry.Role role, address signer) =
            _attest(structHash, placement.organizationId, placement.nonce, signature);
        Batch storage held = _recorded(placement.batchId);
        if (role != IConsortiumRegistry.Role.Regulator && placement.organizationId != held.mahId) {
            revert NotHoldAuthority(placement.batchId, placement.organizationId);
        }
        if (held.recall != RecallStatus.None) revert BatchRecalled(placement.batchId);
        if (held.onHold) revert BatchAlreadyOnHold(placement.batchId);
        held.onHold = true;
        emit BatchPlacedOnHold(placement.batchId, placement.organizationId, placement, signer, signature);
    }

    /// @inheritdoc IBatchLedger
    function releaseHold(HoldRelease calldata release, bytes calldata signature) external {
        bytes32 structHash = keccak256(
            abi.encode(HOLD_RELEASE_TYPEHASH, release.mahId, release.nonce, release.batchId, release.reasonHash)
        );
        (, address signer) = _attest(structHash, release.mahId, release.nonce, signature);
        Batch storage held = _recorded(release.batchId);
        if (release.mahId != held.mahId) revert NotBatchMah(release.batchId, release.mahId);
        if (!held.onHold) revert BatchNotOnHold(release.batchId);
        if (held.openDeviations != 0) revert BatchHasOpenDeviations(release.batchId, held.openDeviations);
        held.onHold = false;
        emit BatchHoldReleased(release.batchId, release.mahId, release, signer, signature);
    }

    // ----- recall -----

    /// @inheritdoc IBatchLedger
    function startRecall(RecallStart calldata recall, bytes calldata signature) external {
        bytes32 structHash = keccak256(
            abi.encode(
                RECALL_START_TYPEHASH, recall.organizationId, recall.nonce, recall.batchId, recall.level, recall.reasonHash
            )
        );
        (IConsortiumRegistry.Role role, address signer) =
            _attest(structHash, recall.organizationId, recall.nonce, signature);
        Batch storage recalled = _recorded(recall.batchId);
        if (role != IConsortiumRegistry.Role.Regulator && recall.organizationId != recalled.mahId) {
            revert NotRecallAuthority(recall.batchId, recall.organizationId);
        }
        if (recall.level == RecallLevel.None) revert InvalidRecallLevel();
        if (recalled.recall != RecallStatus.None) revert RecallAlreadyStarted(recall.batchId);
        recalled.recall = RecallStatus.Open;
        recalled.recallLevel = recall.level;
        // Escalation: the recall's own rules now stop the stock, and only the recall's closure ends them.
        recalled.onHold = false;
        recalled.unacknowledgedHolders = recalled.holders;
        emit RecallStarted(recall.batchId, recall.organizationId, recall.level, recall, signer, signature);
    }

    /// @inheritdoc IBatchLedger
    function acknowledgeRecall(RecallAcknowledgement calldata acknowledgement, bytes calldata signature) external {
        (, address signer) =
            _attest(_hashAcknowledgement(acknowledgement), acknowledgement.holderId, acknowledgement.nonce, signature);
        Batch storage recalled = _withOpenRecall(acknowledgement.batchId);
        Holding storage held = _holdings[acknowledgement.batchId][acknowledgement.holderId];
        uint64 quantityHeld = held.quantity;
        if (quantityHeld == 0) revert NotBatchHolder(acknowledgement.batchId, acknowledgement.holderId);
        if (held.recallAcknowledged) {
            revert RecallAlreadyAcknowledged(acknowledgement.batchId, acknowledgement.holderId);
        }
        // Summed in 256 bits: four quantities near the uint64 limit must be refused for not adding up, not overflow.
        uint256 gone = uint256(acknowledgement.dispensedQuantity) + acknowledgement.destroyedQuantity
            + acknowledgement.missingQuantity;
        uint256 accounted = gone + acknowledgement.quarantinedQuantity;
        if (accounted != quantityHeld) {
            revert AcknowledgementDoesNotAddUp(
                acknowledgement.batchId, acknowledgement.holderId, quantityHeld, accounted
            );
        }
        held.recallAcknowledged = true;
        recalled.unacknowledgedHolders -= 1;
        // What is no longer there leaves the holding: the holding becomes the quarantined stock.
        if (gone != 0) _debit(recalled, acknowledgement.batchId, acknowledgement.holderId, uint64(gone));
        emit RecallAcknowledged(acknowledgement.batchId, acknowledgement.holderId, acknowledgement, signer, signature);
    }

    /// @inheritdoc IBatchLedger
    function closeRecall(RecallClosure calldata closure, bytes calldata signature) external {
        bytes32 structHash = keccak256(
            abi.encode(RECALL_CLOSURE_TYPEHASH, closure.mahId, closure.nonce, closure.batchId, closure.reportHash)
        );
        (, address signer) = _attest(structHash, closure.mahId, closure.nonce, signature);
        Batch storage recalled = _recorded(closure.batchId);
        if (closure.mahId != recalled.mahId) revert NotBatchMah(closure.batchId, closure.mahId);
        if (recalled.recall != RecallStatus.Open) revert RecallNotOpen(closure.batchId);
        if (recalled.unacknowledgedHolders != 0 || recalled.shipmentsInTransit != 0) {
            revert RecallNotReconciled(closure.batchId, recalled.unacknowledgedHolders, recalled.shipmentsInTransit);
        }
        recalled.recall = RecallStatus.Closed;
        emit RecallClosed(closure.batchId, closure.mahId, closure, signer, signature);
    }

    // ----- views -----

    /// @inheritdoc IBatchLedger
    function batch(bytes32 id) external view returns (Batch memory) {
        return _batches[id];
    }

    /// @inheritdoc IBatchLedger
    function holding(bytes32 id, uint32 organizationId) external view returns (Holding memory) {
        return _holdings[id][organizationId];
    }

    /// @inheritdoc IBatchLedger
    function codesRoot(bytes32 id) external view returns (bytes32) {
        return _codesRoots[id];
    }

    /// @inheritdoc IBatchLedger
    function deviationStatus(bytes32 id, bytes32 reportHash) external view returns (DeviationStatus) {
        return _deviations[id][reportHash].status;
    }

    /// @inheritdoc IBatchLedger
    function isInTransit(bytes32 id) external view returns (bool) {
        return _shipments[id] != 0;
    }

    /// @inheritdoc IBatchLedger
    function isPackOfBatch(bytes32 id, bytes32 pack, bytes32[] calldata proof) external view returns (bool) {
        bytes32 root = _codesRoots[id];
        return root != 0 && MerkleProof.verifyCalldata(proof, root, _leaf(pack));
    }

    /// @inheritdoc IBatchLedger
    function isPackDispensed(bytes32 pack) external view returns (bool) {
        return _packs[pack].state == PackState.Dispensed;
    }

    /// @inheritdoc IBatchLedger
    function packRecord(bytes32 pack) external view returns (PackRecord memory) {
        return _packs[pack];
    }

    /// @inheritdoc IBatchLedger
    function undoWindow() external view returns (uint40) {
        return _undoWindow;
    }

    /// @inheritdoc IBatchLedger
    function batchId(bytes32 productId, string calldata batchNumber) public pure returns (bytes32) {
        return keccak256(abi.encode(productId, batchNumber));
    }

    /// @inheritdoc IBatchLedger
    function shipmentId(uint32 shipperId, uint256 nonce) public pure returns (bytes32) {
        return keccak256(abi.encode(shipperId, nonce));
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

    function _checkQualityAgreement(
        bytes32 agreementId,
        IProductRegistry.AgreementTerms memory terms,
        uint32 cmoId
    ) private view {
        if (terms.kind == IProductRegistry.AgreementKind.None) revert UnknownAgreement(agreementId);
        if (terms.kind != IProductRegistry.AgreementKind.Quality) revert NotQualityAgreement(agreementId);
        if (terms.counterpartyId != cmoId) revert NotAgreementCounterparty(agreementId, cmoId);
        if (terms.revoked) revert RevokedAgreement(agreementId);
        IProductRegistry.CrossProvinceApproval approval = terms.approval;
        if (
            approval != IProductRegistry.CrossProvinceApproval.NotRequired
                && approval != IProductRegistry.CrossProvinceApproval.Approved
        ) revert AgreementAwaitingApproval(agreementId, approval);
        if (block.timestamp < terms.validFrom || block.timestamp >= terms.validUntil) {
            revert AgreementNotInForce(agreementId, terms.validFrom, terms.validUntil);
        }
    }

    function _checkBatchRecord(BatchRecord calldata record) private view {
        uint256 numberLength = bytes(record.batchNumber).length;
        if (numberLength == 0 || numberLength > MAX_BATCH_NUMBER_LENGTH) revert InvalidBatchNumber(record.batchNumber);
        if (record.quantity == 0) revert ZeroQuantity();
        if (
            record.manufacturedAt > block.timestamp || record.expiresAt < block.timestamp
                || record.expiresAt <= record.manufacturedAt
        ) {
            revert InvalidBatchDates(record.manufacturedAt, record.expiresAt);
        }
        if (record.codesRoot == 0) revert EmptyCodesRoot();
    }

    /// @dev Release steps go in order, never with an open deviation and never for a recalled batch.
    function _checkReleasable(bytes32 id, Batch storage subject, BatchState required) private view {
        if (subject.recall != RecallStatus.None) revert BatchRecalled(id);
        _checkNotRejected(id, subject);
        if (subject.state != required) revert BatchStateMismatch(id, subject.state, required);
        if (subject.openDeviations != 0) revert BatchHasOpenDeviations(id, subject.openDeviations);
    }

    /// @dev Stock moves to customers and patients only after market release, never while held, and until a recall.
    function _checkInCommerce(bytes32 id, Batch storage subject) private view {
        if (subject.recall != RecallStatus.None) revert BatchRecalled(id);
        _checkNotRejected(id, subject);
        _checkNotHeld(id, subject);
        if (subject.state != BatchState.MarketReleased) {
            revert BatchStateMismatch(id, subject.state, BatchState.MarketReleased);
        }
    }

    function _checkNotRejected(bytes32 id, Batch storage subject) private view {
        if (subject.state == BatchState.Rejected) revert BatchRejected(id);
    }

    /// @dev A release by the MAH's own key names no person, so it must not claim one.
    function _checkOrganizationSigner(MarketRelease calldata release) private pure {
        if (release.signerRole != IQualityDuties.PersonRole.Organization || bytes(release.signerName).length != 0) {
            revert ReleaseSignerNotOrganization(release.batchId, release.signerRole, release.signerName);
        }
    }

    function _checkNotHeld(bytes32 id, Batch storage subject) private view {
        if (subject.onHold) revert BatchOnHold(id);
    }

    /// @dev `expiresAt` is the batch's last valid second: a date-only expiry is 23:59:59 China time that day, as
    /// a pack's GS1 (17) means.
    function _checkUnexpired(bytes32 id, Batch storage subject) private view {
        if (block.timestamp > subject.expiresAt) revert BatchExpired(id, subject.expiresAt);
    }

    function _checkRecipient(uint32 shipperId, uint32 recipientId) private view {
        if (recipientId == shipperId) revert ShipmentToSelf(shipperId);
        IConsortiumRegistry.Role role = _registry.activeRole(recipientId);
        if (role == IConsortiumRegistry.Role.Regulator) revert RecipientCannotHold(recipientId, role);
    }

    function _checkConsignment(Receipt calldata receipt) private view {
        bytes32 consignment = _shipments[receipt.shipmentId];
        if (consignment == 0) revert ShipmentNotInTransit(receipt.shipmentId);
        uint32 addresseeId = uint32(uint256(consignment) >> 224);
        if (addresseeId != receipt.recipientId) {
            revert NotShipmentAddressee(receipt.shipmentId, addresseeId, receipt.recipientId);
        }
        bytes32 expected =
            _consignment(receipt.recipientId, receipt.batchId, receipt.shipperId, receipt.shippedQuantity);
        if (consignment != expected) revert ShipmentDetailsMismatch(receipt.shipmentId);
    }

    function _proveInBatch(
        bytes32 id,
        bytes32[] calldata packs,
        bytes32[] calldata proof,
        bool[] calldata proofFlags
    ) private view {
        if (packs.length == 0) revert NoPacks();
        bytes32[] memory leaves = new bytes32[](packs.length);
        for (uint256 i = 0; i < packs.length; ++i) {
            leaves[i] = _leaf(packs[i]);
        }
        if (!MerkleProof.multiProofVerifyCalldata(proof, proofFlags, _codesRoots[id], leaves)) {
            revert PacksNotInBatch(id);
        }
    }

    /// @dev Who may set which state: see {IBatchLedger-changePackStates}. Taking packs out of a holding is checked
    /// by the debit that follows.
    function _checkPackStateChange(
        Batch storage subject,
        bytes32 id,
        uint32 organizationId,
        IConsortiumRegistry.Role role,
        PackState state
    ) private view {
        if (state == PackState.Dispensed) {
            _checkRole(organizationId, role, IConsortiumRegistry.Role.Dispenser);
            _checkUnexpired(id, subject);
        }
        if (state == PackState.Dispensed || state == PackState.Exported) _checkInCommerce(id, subject);
        if (
            state == PackState.Locked && role != IConsortiumRegistry.Role.Regulator && organizationId != subject.mahId
                && _holdings[id][organizationId].quantity == 0
        ) revert NotPackCustodian(id, organizationId);
    }

    /// @dev Active packs take `state`, one state at a time.
    function _setPackStates(bytes32[] calldata packs, PackState state, uint32 organizationId) private {
        PackRecord memory record = PackRecord(state, organizationId, uint40(block.timestamp));
        for (uint256 i = 0; i < packs.length; ++i) {
            PackState current = _packs[packs[i]].state;
            if (current == PackState.Dispensed) revert PackAlreadyDispensed(packs[i]);
            if (current != PackState.Active) revert PackNotActive(packs[i], current);
            _packs[packs[i]] = record;
        }
    }

    /// @dev Undoes the setter's own states: a lock unless a suspect-product report holds it; a dispensing, sample or export within the undo
    /// window, returning those packs to its holding while the batch is unexpired and unrecalled.
    function _restorePacks(Batch storage subject, bytes32 id, uint32 organizationId, bytes32[] calldata packs) private {
        uint64 returned = 0;
        for (uint256 i = 0; i < packs.length; ++i) {
            PackRecord memory record = _packs[packs[i]];
            if (record.state == PackState.Active || record.state == PackState.Destroyed || record.state == PackState.Stolen) {
                revert PackStateIrreversible(packs[i], record.state);
            }
            if (record.organizationId != organizationId) {
                revert NotPackStateSetter(packs[i], record.organizationId, organizationId);
            }
            if (record.state == PackState.Locked) {
                if (_alertCases.holdsPackLock(packs[i])) revert PackLockHeldByReport(packs[i]);
            } else {
                if (block.timestamp > uint256(record.changedAt) + _undoWindow) {
                    revert UndoWindowClosed(packs[i], record.changedAt, _undoWindow);
                }
                ++returned;
            }
            delete _packs[packs[i]];
        }
        if (returned != 0) {
            if (subject.recall != RecallStatus.None) revert BatchRecalled(id);
            _checkUnexpired(id, subject);
            _credit(subject, id, organizationId, returned);
        }
    }

    /// @dev Adds stock to a holding. During an open recall the holder must acknowledge its new holding.
    function _credit(Batch storage subject, bytes32 id, uint32 organizationId, uint64 quantity) private {
        Holding storage held = _holdings[id][organizationId];
        if (held.quantity == 0) subject.holders += 1;
        if (subject.recall == RecallStatus.Open && (held.quantity == 0 || held.recallAcknowledged)) {
            held.recallAcknowledged = false;
            subject.unacknowledgedHolders += 1;
        }
        held.quantity += quantity;
    }

    /// @dev Removes stock from a holding; a holder left with nothing no longer owes a recall acknowledgement.
    function _debit(Batch storage subject, bytes32 id, uint32 organizationId, uint64 quantity) private {
        Holding storage held = _holdings[id][organizationId];
        uint64 quantityHeld = held.quantity;
        if (quantityHeld < quantity) revert InsufficientHolding(id, organizationId, quantityHeld, quantity);
        held.quantity = quantityHeld - quantity;
        if (quantityHeld == quantity) {
            subject.holders -= 1;
            if (subject.recall == RecallStatus.Open && !held.recallAcknowledged) subject.unacknowledgedHolders -= 1;
        }
    }

    function _recorded(bytes32 id) private view returns (Batch storage subject) {
        subject = _batches[id];
        if (subject.state == BatchState.None) revert UnknownBatch(id);
    }

    function _withOpenRecall(bytes32 id) private view returns (Batch storage subject) {
        subject = _recorded(id);
        if (subject.recall != RecallStatus.Open) revert RecallNotOpen(id);
    }

    function _batchOfParty(bytes32 id, uint32 organizationId) private view returns (Batch storage subject) {
        subject = _recorded(id);
        if (organizationId != subject.mahId && organizationId != subject.cmoId) revert NotBatchParty(id, organizationId);
    }

    /// @dev The pack's leaf in OpenZeppelin's standard Merkle tree of the batch's codes. Hashing the pack id once
    /// more means an inner node of the tree (the hash of 64 bytes) can never pass for a pack.
    function _leaf(bytes32 pack) private pure returns (bytes32) {
        return keccak256(abi.encode(pack));
    }

    function _consignment(uint32 recipientId, bytes32 id, uint32 shipperId, uint64 quantity)
        private
        pure
        returns (bytes32)
    {
        uint256 details = uint256(keccak256(abi.encode(id, shipperId, quantity))) >> 32;
        return bytes32((uint256(recipientId) << 224) | details);
    }

    function _hashBatchRecord(BatchRecord calldata record) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                BATCH_RECORD_TYPEHASH,
                record.cmoId,
                record.nonce,
                record.agreementId,
                keccak256(bytes(record.batchNumber)),
                record.quantity,
                record.manufacturedAt,
                record.expiresAt,
                record.batchRecordHash,
                record.codesRoot
            )
        );
    }

    function _hashShipment(Shipment calldata shipment) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                SHIPMENT_TYPEHASH,
                shipment.shipperId,
                shipment.nonce,
                shipment.batchId,
                shipment.recipientId,
                shipment.quantity,
                shipment.codesRoot
            )
        );
    }

    function _hashAcknowledgement(RecallAcknowledgement calldata acknowledgement) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                RECALL_ACKNOWLEDGEMENT_TYPEHASH,
                acknowledgement.holderId,
                acknowledgement.nonce,
                acknowledgement.batchId,
                acknowledgement.quarantinedQuantity,
                acknowledgement.dispensedQuantity,
                acknowledgement.destroyedQuantity,
                acknowledgement.missingQuantity
            )
        );
    }

    function _hashReceipt(Receipt calldata receipt) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                RECEIPT_TYPEHASH,
                receipt.recipientId,
                receipt.nonce,
                receipt.shipmentId,
                receipt.batchId,
                receipt.shipperId,
                receipt.shippedQuantity,
                receipt.receivedQuantity
            )
        );
    }
}
