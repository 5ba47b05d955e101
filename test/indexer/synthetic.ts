import { AbiCoder, Wallet, ZeroAddress, ZeroHash, id as hashText, keccak256, hexlify, randomBytes } from "ethers";
import type { BaseWallet, Log } from "ethers";
import { AgreementKind, CONTRACT_INTERFACES as INTERFACES, DeviationKind, PersonRole, ReleaseTester, Role, signAttestation } from "../../src/ledger";
import type { AttestationType, LedgerContract } from "../../src/ledger";
import type { BlockInfo, ChainSource, Deployment } from "../../src/indexer";
import type { Store } from "../../src/store";
import { LEDGER_EVENT_TOPICS } from "../../src/indexer/decode";
import { applyRange } from "../../src/indexer/ranges";
import type { AppliedRange, CheckpointIdentity, FetchedRange } from "../../src/indexer/ranges";

/**
 * A ledger fabricated without a chain: the logs the contracts would emit, encoded with their ABIs and signed as
 * EIP-712 attestations by real keys, one event per block. It lets a test feed the indexer exactly the events it
 * wants, including ones the contracts would refuse (a receipt for an unknown shipment, a forged signature).
 */

/** Every ledger event the indexer asks the node for: what its reducer must handle. */
export const LEDGER_EVENT_NAMES: string[] = Object.values(INTERFACES)
  .flatMap((iface) => {
    const names: string[] = [];
    iface.forEachEvent((event) => {
      if (LEDGER_EVENT_TOPICS.includes(event.topicHash)) names.push(event.name);
    });
    return names;
  })
  .sort();

export type SyntheticParty = { id: number; key: BaseWallet; role: number };

/** How to spoil an attestation: sign with another key, name another signer, or change the struct after signing. */
export type Forgery = {
  /** The key that signs (default: the party's key). */
  key?: BaseWallet;
  /** The signer the event names (default: the signing key's address). */
  claimedSigner?: string;
  /** Changes the attested struct after it was signed, as a tampered log would carry it. */
  tamper?: (struct: Record<string, unknown>) => Record<string, unknown>;
  /** The key that signs as the agreement's counterparty (default: the counterparty's own key). */
  counterpartyKey?: BaseWallet;
};

const T0 = 1_750_000_000;
const abi = AbiCoder.defaultAbiCoder();

/** A ledger on a chain of its own (its own genesis); `contracts` reuses another deployment's addresses. */
export function createSyntheticLedger(options: { chainId?: number; contracts?: Deployment["contracts"] } = {}) {
  const salt = hexlify(randomBytes(8));
  const address = () => Wallet.createRandom().address.toLowerCase();
  const deployment: Deployment = {
    chainId: options.chainId ?? 31337,
    contracts: options.contracts ?? {
      ConsortiumRegistry: address(),
      ProductRegistry: address(),
      BatchLedger: address(),
      AggregationLedger: address(),
      AlertCases: address(),
      CorrectiveActions: address(),
      QualityDuties: address(),
      SupervisionRecords: address(),
    },
  };
  const logs: Log[] = [];
  let head = 0;
  let nonce = 1n;
  let organizations = 0;
  let applied = 0;

  const block = (number: number): BlockInfo => ({
    number,
    hash: keccak256(abi.encode(["bytes8", "uint256"], [salt, number])),
    timestamp: T0 + number * 5,
  });

  /** Encodes one event as its contract would emit it, signed by `signer` (null: the bootstrap, unsigned). */
  async function emit(
    contract: LedgerContract,
    eventName: string,
    type: string,
    struct: Record<string, unknown>,
    signer: BaseWallet | null,
    top: Record<string, unknown> = {},
    forgery: Forgery = {},
  ): Promise<Log> {
    const message: Record<string, unknown> = { ...struct, nonce: nonce++ };
    const sign = async (key: BaseWallet) =>
      signAttestation(key, {
        domain: { contract, chainId: BigInt(deployment.chainId), verifyingContract: deployment.contracts[contract] },
        type: type as AttestationType<LedgerContract>,
        message,
      });
    const key = forgery.key ?? signer;
    const signature = key ? await sign(key) : "0x";
    const named = forgery.claimedSigner ?? key?.address ?? ZeroAddress;
    const counterparty = top.counterparty as BaseWallet | undefined;
    const counterpartyKey = forgery.counterpartyKey ?? counterparty;
    const counterpartySignature = counterpartyKey ? await sign(counterpartyKey) : "0x";
    const carried = forgery.tamper ? forgery.tamper({ ...message }) : message;
    const iface = INTERFACES[contract];
    const fragment = iface.getEvent(eventName)!;
    const values = fragment.inputs.map((input) => {
      if (input.baseType === "tuple") return carried;
      if (input.name in top) return top[input.name];
      if (input.name === "signer" || input.name === "mahSigner") return named;
      if (input.name === "signature" || input.name === "mahSignature") return signature;
      if (input.name === "counterpartySigner") return counterparty?.address ?? ZeroAddress;
      if (input.name === "counterpartySignature") return counterpartySignature;
      if (input.name in carried) return carried[input.name];
      throw new Error(`no value for ${eventName}.${input.name}`);
    });
    const { topics, data } = iface.encodeEventLog(fragment, values);
    return push(deployment.contracts[contract], topics, data);
  }

  /** Appends a raw log in a new block (for logs no contract of the deployment would emit). */
  function push(address: string, topics: readonly string[], data: string): Log {
    head += 1;
    const { hash } = block(head);
    const log = {
      blockNumber: head,
      blockHash: hash,
      index: 0,
      transactionIndex: 0,
      transactionHash: keccak256(abi.encode(["bytes8", "uint256", "string"], [salt, head, "tx"])),
      address,
      topics: [...topics],
      data,
      removed: false,
    } as unknown as Log;
    logs.push(log);
    return log;
  }

  const onboarded = (role: number): SyntheticParty => ({ id: ++organizations, key: Wallet.createRandom(), role });

  const ledger = {
    deployment,
    logs,
    block,
    get head() {
      return head;
    },
    /** Adds `count` blocks without events. */
    mine(count = 1) {
      head += count;
    },
    push,
    topicOf(contract: LedgerContract, eventName: string) {
      return INTERFACES[contract].getEvent(eventName)!.topicHash;
    },
    identity(): CheckpointIdentity {
      return { chainId: deployment.chainId, genesisHash: block(0).hash, deployment: JSON.stringify(deployment.contracts) };
    },
    /** Blocks `from`..`to` as the indexer fetches them. */
    range(from: number, to = head): FetchedRange {
      const inRange = logs.filter((l) => l.blockNumber >= from && l.blockNumber <= to);
      const blocks = new Map<number, BlockInfo>();
      for (const n of new Set([...inRange.map((l) => l.blockNumber), to])) blocks.set(n, block(n));
      return { from, to, logs: inRange, blocks, end: block(to) };
    },
    /** Applies everything added since the last call as one range. */
    async apply(store: Store): Promise<AppliedRange> {
      const result = await applyRange(store.db, deployment, ledger.identity(), ledger.range(applied + 1, head));
      applied = head;
      return result;
    },
    /** The ledger served as a node would serve it. */
    source(overrides: Partial<ChainSource> = {}): ChainSource {
      return {
        chainId: async () => deployment.chainId,
        head: async () => {
          const { number, hash } = block(head);
          return { number, hash };
        },
        block: async (n) => (n <= head ? block(n) : undefined),
        logs: async ({ fromBlock, toBlock, addresses, topics }) => {
          const wanted = new Set(addresses.map((a) => a.toLowerCase()));
          return logs.filter(
            (l) => l.blockNumber >= fromBlock && l.blockNumber <= toBlock && wanted.has(l.address.toLowerCase()) && topics.includes(l.topics[0]!),
          );
        },
        close() {},
        ...overrides,
      };
    },

    // ----- the consortium registry -----

    /** The deployer's regulator: onboarded unsigned, as the registry's constructor does. */
    async bootstrap(): Promise<SyntheticParty> {
      const regulator = onboarded(Role.Regulator);
      await emit(
        "ConsortiumRegistry",
        "OrganizationOnboarded",
        "Onboarding",
        onboardingOf(0, Role.Regulator, 320000, regulator.key.address, "Jiangsu MPA"),
        null,
        { organizationId: regulator.id },
      );
      return regulator;
    },
    async onboard(by: SyntheticParty, role: number, name = `org-${organizations + 1}`, forgery?: Forgery) {
      const party = onboarded(role);
      await emit(
        "ConsortiumRegistry",
        "OrganizationOnboarded",
        "Onboarding",
        onboardingOf(by.id, role, 330000, party.key.address, name),
        by.key,
        { organizationId: party.id },
        forgery,
      );
      return party;
    },
    suspend: (by: SyntheticParty, organizationId: number) =>
      emit("ConsortiumRegistry", "OrganizationSuspended", "Suspension", statusChange(by, organizationId), by.key),
    reinstate: (by: SyntheticParty, organizationId: number) =>
      emit("ConsortiumRegistry", "OrganizationReinstated", "Reinstatement", statusChange(by, organizationId), by.key),
    async addKey(party: SyntheticParty, key: BaseWallet = Wallet.createRandom(), forgery?: Forgery) {
      const change = { organizationId: party.id, signingKey: key.address };
      await emit("ConsortiumRegistry", "SigningKeyAdded", "SigningKeyAddition", change, party.key, {}, forgery);
      return key;
    },
    revokeKey: (party: SyntheticParty, key: string, forgery?: Forgery) =>
      emit("ConsortiumRegistry", "SigningKeyRevoked", "SigningKeyRevocation", { organizationId: party.id, signingKey: key }, party.key, {}, forgery),

    // ----- products and agreements -----

    async registerProduct(mah: SyntheticParty, productCode = "06901234567892") {
      const productId = hashText(productCode);
      await emit(
        "ProductRegistry",
        "ProductRegistered",
        "ProductRegistration",
        { mahId: mah.id, productCode, approvalNumber: `国药准字H${productCode.slice(-8)}`, name: `Product ${productCode}` },
        mah.key,
        { productId },
      );
      return productId;
    },
    async signAgreement(
      mah: SyntheticParty,
      counterparty: SyntheticParty,
      productId: string,
      overrides: Record<string, unknown> = {},
      forgery?: Forgery,
    ) {
      const agreementId = keccak256(abi.encode(["uint32", "uint256"], [mah.id, nonce]));
      await emit(
        "ProductRegistry",
        "AgreementSigned",
        "Agreement",
        {
          mahId: mah.id,
          kind: AgreementKind.Quality,
          counterpartyId: counterparty.id,
          productId,
          documentHash: hashText("quality agreement v1"),
          validFrom: T0,
          validUntil: T0 + 3 * 365 * 86400,
          releaseTester: ReleaseTester.Cmo,
          ...overrides,
        },
        mah.key,
        { agreementId, counterparty: counterparty.key },
        forgery,
      );
      return agreementId;
    },
    revokeAgreement: (by: SyntheticParty, agreementId: string) =>
      emit(
        "ProductRegistry",
        "AgreementRevoked",
        "AgreementRevocation",
        { organizationId: by.id, agreementId, reasonHash: hashText("terminated") },
        by.key,
      ),

    // ----- batches, custody and recalls -----

    async recordBatch(
      cmo: SyntheticParty,
      mah: SyntheticParty,
      productId: string,
      agreementId: string,
      batchNumber: string,
      quantity: number,
      forgery?: Forgery,
    ) {
      const batchId = keccak256(abi.encode(["bytes32", "string"], [productId, batchNumber]));
      await emit(
        "BatchLedger",
        "BatchRecorded",
        "BatchRecord",
        {
          cmoId: cmo.id,
          agreementId,
          batchNumber,
          quantity,
          manufacturedAt: T0 - 86400,
          expiresAt: T0 + 2 * 365 * 86400,
          batchRecordHash: hashText(`batch record ${batchNumber}`),
          codesRoot: hashText(`codes of ${batchNumber}`),
        },
        cmo.key,
        { batchId, productId, mahId: mah.id },
        forgery,
      );
      return batchId;
    },
    /** `placesOnHold`: as the contract says when the deviation is opened on a market-released batch not yet held. */
    openDeviation: (by: SyntheticParty, batchId: string, reportHash: string, kind: number = DeviationKind.OutOfSpecification, placesOnHold = false) =>
      emit(
        "BatchLedger",
        "DeviationOpened",
        "DeviationReport",
        { organizationId: by.id, batchId, kind, severity: 1, category: 5, reportHash },
        by.key,
        { placesOnHold },
      ),
    closeDeviation: (by: SyntheticParty, batchId: string, reportHash: string) =>
      emit(
        "BatchLedger",
        "DeviationClosed",
        "DeviationClosure",
        { organizationId: by.id, batchId, reportHash, rootCause: 6, batchImpact: 1, closureHash: hashText(`closure of ${reportHash}`) },
        by.key,
      ),
    recordCapa: (by: SyntheticParty, batchId: string, reportHash: string, capaHash: string, ownerId: number, dueAt: number) =>
      emit("CorrectiveActions", "CapaRecorded", "CapaRecord", { organizationId: by.id, batchId, reportHash, capaHash, ownerId, dueAt }, by.key),
    checkCapa: (mah: SyntheticParty, batchId: string, capaHash: string, effective: boolean) =>
      emit(
        "CorrectiveActions",
        "CapaEffectivenessChecked",
        "EffectivenessCheck",
        { mahId: mah.id, batchId, capaHash, effective, checkHash: hashText(`check of ${capaHash}`) },
        mah.key,
      ),
    releaseFromFactory: (cmo: SyntheticParty, batchId: string) =>
      emit("BatchLedger", "BatchFactoryReleased", "FactoryRelease", { cmoId: cmo.id, batchId, certificateHash: hashText("QA") }, cmo.key),
    /** Signed by the MAH's own key unless `signer` names the QP who signs. */
    releaseToMarket: (mah: SyntheticParty, batchId: string, signer = { signerRole: PersonRole.Organization as number, signerName: "" }) =>
      emit("BatchLedger", "BatchMarketReleased", "MarketRelease", { mahId: mah.id, batchId, decisionHash: hashText("QP"), ...signer }, mah.key),
    refuseRelease: (mah: SyntheticParty, batchId: string) =>
      emit("BatchLedger", "BatchReleaseRefused", "ReleaseRefusal", { mahId: mah.id, batchId, reasonHash: hashText("reject") }, mah.key),
    async ship(from: SyntheticParty, to: SyntheticParty, batchId: string, quantity: number, forgery?: Forgery) {
      const shipmentId = keccak256(abi.encode(["uint32", "uint256"], [from.id, nonce]));
      await emit(
        "BatchLedger",
        "BatchShipped",
        "Shipment",
        { shipperId: from.id, batchId, recipientId: to.id, quantity, codesRoot: ZeroHash },
        from.key,
        { shipmentId },
        forgery,
      );
      return shipmentId;
    },
    receive: (
      to: SyntheticParty,
      from: SyntheticParty,
      batchId: string,
      shipmentId: string,
      shippedQuantity: number,
      receivedQuantity = shippedQuantity,
      forgery?: Forgery,
    ) =>
      emit(
        "BatchLedger",
        "ShipmentReceived",
        "Receipt",
        { recipientId: to.id, shipmentId, batchId, shipperId: from.id, shippedQuantity, receivedQuantity },
        to.key,
        {},
        forgery,
      ),
    /** Ships and receives in full. */
    async handOver(from: SyntheticParty, to: SyntheticParty, batchId: string, quantity: number) {
      const shipmentId = await ledger.ship(from, to, batchId, quantity);
      await ledger.receive(to, from, batchId, shipmentId, quantity);
      return shipmentId;
    },
    dispense: (dispenser: SyntheticParty, batchId: string, packs: string[]) =>
      emit("BatchLedger", "PacksDispensed", "Dispensing", { dispenserId: dispenser.id, batchId, packs }, dispenser.key),
    /** Sets the packs' state (PackState; Active undoes). */
    changePackStates: (by: SyntheticParty, batchId: string, packs: string[], state: number) =>
      emit(
        "BatchLedger",
        "PackStatesChanged",
        "PackStateChange",
        { organizationId: by.id, batchId, state, packs, reasonHash: hashText("pack state") },
        by.key,
      ),
    destroy: (holder: SyntheticParty, batchId: string, quantity: number) =>
      emit("BatchLedger", "StockDestroyed", "Destruction", { holderId: holder.id, batchId, quantity, reasonHash: hashText("damaged") }, holder.key),
    placeHold: (by: SyntheticParty, batchId: string) =>
      emit("BatchLedger", "BatchPlacedOnHold", "HoldPlacement", { organizationId: by.id, batchId, reasonHash: hashText("complaints") }, by.key),
    releaseHold: (mah: SyntheticParty, batchId: string) =>
      emit("BatchLedger", "BatchHoldReleased", "HoldRelease", { mahId: mah.id, batchId, reasonHash: hashText("investigation closed") }, mah.key),
    startRecall: (by: SyntheticParty, batchId: string, level: number) =>
      emit("BatchLedger", "RecallStarted", "RecallStart", { organizationId: by.id, batchId, level, reasonHash: hashText("contamination") }, by.key),
    /** A holder's account of its holding: quarantined, and what already left it (dispensed, destroyed, missing). */
    acknowledgeRecall: (
      holder: SyntheticParty,
      batchId: string,
      quarantinedQuantity: number,
      gone: { dispensed?: number; destroyed?: number; missing?: number } = {},
    ) =>
      emit(
        "BatchLedger",
        "RecallAcknowledged",
        "RecallAcknowledgement",
        {
          holderId: holder.id,
          batchId,
          quarantinedQuantity,
          dispensedQuantity: gone.dispensed ?? 0,
          destroyedQuantity: gone.destroyed ?? 0,
          missingQuantity: gone.missing ?? 0,
        },
        holder.key,
      ),
    closeRecall: (mah: SyntheticParty, batchId: string) =>
      emit("BatchLedger", "RecallClosed", "RecallClosure", { mahId: mah.id, batchId, reportHash: hashText("report") }, mah.key),
    /** Takes the case of `alertKey` (a hash) about `subjectId`, kept under keccak256(abi.encode(alertKey, subjectId)). */
    takeAlert: (by: SyntheticParty, alertKey: string, subjectId: number, previousOwnerId = 0) =>
      emit("AlertCases", "AlertTaken", "AlertTaking", { organizationId: by.id, alertKey, subjectId }, by.key, {
        caseKey: keccak256(abi.encode(["bytes32", "uint32"], [alertKey, subjectId])),
        previousOwnerId,
      }),
    changeAlertStatus: (by: SyntheticParty, caseKey: string, status: number, previousStatus = 0, reasonHash = hashText("reason")) =>
      emit("AlertCases", "AlertStatusChanged", "AlertStatusChange", { organizationId: by.id, caseKey, status, reasonHash }, by.key, {
        previousStatus,
      }),
    /** Files a suspect-product report; returns its id. */
    async fileSuspectReport(by: SyntheticParty, batchId: string, packs: string[]) {
      const reportId = keccak256(abi.encode(["uint32", "uint256"], [by.id, nonce]));
      await emit(
        "AlertCases",
        "SuspectReportFiled",
        "SuspectReport",
        { organizationId: by.id, batchId, packs, reasonHash: hashText("suspect") },
        by.key,
        {
          reportId,
        },
      );
      return reportId;
    },
    terminateSuspectReport: (regulator: SyntheticParty, reportId: string, batchId: string, outcome: number) =>
      emit(
        "AlertCases",
        "SuspectReportTerminated",
        "SuspectTermination",
        { regulatorId: regulator.id, reportId, outcome, reasonHash: hashText("cleared") },
        regulator.key,
        { batchId },
      ),

    // ----- quality duties -----

    appointPerson: (mah: SyntheticParty, productId: string, personKey: string, role: number, name: string) =>
      emit("QualityDuties", "ResponsiblePersonAppointed", "PersonAppointment", { mahId: mah.id, productId, personKey, role, name }, mah.key, {
        productId,
        mahId: mah.id,
        personKey,
      }),
    revokePerson: (mah: SyntheticParty, productId: string, personKey: string) =>
      emit(
        "QualityDuties",
        "ResponsiblePersonRevoked",
        "PersonRevocation",
        { mahId: mah.id, productId, personKey, reasonHash: hashText("left") },
        mah.key,
        { productId, mahId: mah.id, personKey },
      ),
    classifyProduct: (mah: SyntheticParty, productId: string, riskClass: number) =>
      emit("QualityDuties", "ProductRiskClassified", "RiskClassification", { mahId: mah.id, productId, riskClass }, mah.key, {
        productId,
        mahId: mah.id,
      }),
    referenceSterileRecords: (cmo: SyntheticParty, batchId: string) =>
      emit(
        "QualityDuties",
        "SterileRecordsReferenced",
        "SterileRecords",
        { cmoId: cmo.id, batchId, environmentalMonitoringHash: hashText("EM"), cleaningRecordHash: hashText("cleaning") },
        cmo.key,
      ),
    issueCertificate: (laboratory: SyntheticParty, agreementId: string, batchId: string, passed: boolean) =>
      emit(
        "QualityDuties",
        "TestCertificateIssued",
        "TestCertificate",
        { laboratoryId: laboratory.id, agreementId, batchId, certificateHash: hashText(`CoA ${batchId}`), passed },
        laboratory.key,
      ),
    agreeCommunicationTerms: (mah: SyntheticParty, agreementId: string, channels: number, responseSeconds: number) =>
      emit(
        "QualityDuties",
        "CommunicationTermsAgreed",
        "CommunicationTerms",
        { mahId: mah.id, agreementId, channels, responseSeconds, termsHash: hashText("clause 9") },
        mah.key,
        { agreementId, mahId: mah.id },
      ),
    countersignCommunicationTerms: (cmo: SyntheticParty, agreementId: string, channels: number, responseSeconds: number) =>
      emit(
        "QualityDuties",
        "CommunicationTermsCountersigned",
        "TermsCountersignature",
        { cmoId: cmo.id, agreementId, channels, responseSeconds, termsHash: hashText("clause 9") },
        cmo.key,
        { agreementId, cmoId: cmo.id },
      ),
    changeShortageListing: (lister: SyntheticParty, productId: string, listed: boolean) =>
      emit(
        "QualityDuties",
        "ShortageListingChanged",
        "ShortageListing",
        { organizationId: lister.id, productId, listed, basisHash: hashText("shortage list") },
        lister.key,
        { productId, organizationId: lister.id },
      ),
    reportStopProduction: (mah: SyntheticParty, productId: string, stopAt: number) =>
      emit(
        "QualityDuties",
        "StopProductionReported",
        "StopProductionReport",
        { mahId: mah.id, productId, stopAt, reportHash: hashText(`stop ${stopAt}`) },
        mah.key,
        { productId, mahId: mah.id },
      ),
    recordRetainedSamples: (cmo: SyntheticParty, batchId: string, quantity: number, retainUntil: number, location: string) =>
      emit("QualityDuties", "RetainedSamplesRecorded", "RetainedSamples", { cmoId: cmo.id, batchId, quantity, retainUntil, location }, cmo.key),
    approveRetainedSamples: (mah: SyntheticParty, batchId: string) =>
      emit(
        "QualityDuties",
        "RetainedSamplesApproved",
        "RetainedSampleApproval",
        { mahId: mah.id, batchId, approvalHash: hashText(`samples ${batchId}`) },
        mah.key,
      ),
    async sendNotice(sender: SyntheticParty, recipient: SyntheticParty, agreementId: string, kind: number, channel: number, dueAt: number) {
      const noticeId = keccak256(abi.encode(["uint32", "uint256"], [sender.id, nonce]));
      await emit(
        "QualityDuties",
        "QualityNoticeSent",
        "QualityNotice",
        { senderId: sender.id, agreementId, kind, channel, noticeHash: hashText(`notice ${noticeId}`) },
        sender.key,
        { noticeId, agreementId, recipientId: recipient.id, dueAt },
      );
      return noticeId;
    },
    // ----- licences, cross-province review, inspections and sampling -----
    recordLicence: (regulator: SyntheticParty, organizationId: number, validUntil: number) =>
      emit(
        "ConsortiumRegistry",
        "LicenceRecorded",
        "LicenceRecord",
        { regulatorId: regulator.id, organizationId, licenceHash: hashText(`licence ${organizationId}`), validUntil },
        regulator.key,
      ),
    reviewAgreement: (regulator: SyntheticParty, agreementId: string, stage: "opinion" | "approval") =>
      emit(
        "ProductRegistry",
        stage === "opinion" ? "AgreementOpinionGiven" : "AgreementApproved",
        stage === "opinion" ? "AgreementOpinion" : "AgreementApproval",
        { regulatorId: regulator.id, agreementId, documentHash: hashText(`${stage} ${agreementId}`) },
        regulator.key,
      ),
    /** Records an inspection; returns its id. */
    async inspect(regulator: SyntheticParty, organizationId: number, scope: number, grade: number) {
      const inspectionId = keccak256(abi.encode(["uint32", "uint256"], [regulator.id, nonce]));
      const inspection = {
        regulatorId: regulator.id,
        organizationId,
        site: "site 1",
        scope,
        criticalFindings: 0,
        majorFindings: 0,
        minorFindings: 1,
      };
      await emit(
        "SupervisionRecords",
        "InspectionRecorded",
        "Inspection",
        { ...inspection, grade, inspectedAt: block(head).timestamp, documentHash: hashText(`inspection ${inspectionId}`) },
        regulator.key,
        { inspectionId },
      );
      return inspectionId;
    },
    recogniseInspection: (regulator: SyntheticParty, inspectionId: string, province: number) =>
      emit("SupervisionRecords", "InspectionRecognised", "InspectionRecognition", { regulatorId: regulator.id, inspectionId }, regulator.key, {
        province,
      }),
    recordSampling: (regulator: SyntheticParty, batchId: string, sampledAtId: number, passed: boolean) => {
      const samplingId = keccak256(abi.encode(["uint32", "uint256"], [regulator.id, nonce]));
      return emit(
        "SupervisionRecords",
        "SamplingRecorded",
        "SamplingResult",
        { regulatorId: regulator.id, batchId, sampledAtId, test: "assay", passed, reportHash: hashText(`sampling ${samplingId}`) },
        regulator.key,
        { samplingId },
      );
    },
    // ----- cases and pallets -----
    commitAggregation: (cmo: SyntheticParty, batchId: string, containers: number, packs: number) =>
      emit(
        "AggregationLedger",
        "AggregationCommitted",
        "AggregationCommitment",
        { cmoId: cmo.id, batchId, aggregationRoot: hashText(`aggregation ${batchId}`), containers, packs },
        cmo.key,
      ),
    unpackUnits: (holder: SyntheticParty, batchId: string, containerId: string, units: string[]) =>
      emit("AggregationLedger", "UnitsUnpacked", "Unpacking", { organizationId: holder.id, batchId, containerId, units }, holder.key),
    acknowledgeNotice: (recipient: SyntheticParty, noticeId: string) =>
      emit(
        "QualityDuties",
        "QualityNoticeAcknowledged",
        "NoticeAcknowledgement",
        { recipientId: recipient.id, noticeId, responseHash: hashText("received") },
        recipient.key,
        { noticeId, recipientId: recipient.id },
      ),
    fileQualityReview: (mah: SyntheticParty, productId: string, year: number, quarter: number, riskLevel: number) =>
      emit(
        "QualityDuties",
        "QualityReviewFiled",
        "QualityReview",
        { mahId: mah.id, productId, year, quarter, riskLevel, reviewHash: hashText(`review ${year}Q${quarter}`) },
        mah.key,
        { productId, mahId: mah.id },
      ),
  };
  return ledger;
}

export type SyntheticLedger = ReturnType<typeof createSyntheticLedger>;

function onboardingOf(regulatorId: number, role: number, region: number, signingKey: string, name: string) {
  return { regulatorId, role, region, licenceHash: hashText(`licence ${name}`), signingKey, name };
}

function statusChange(by: SyntheticParty, organizationId: number) {
  return { regulatorId: by.id, organizationId, reasonHash: hashText("inspection") };
}

/** The usual cast on a synthetic ledger: a regulator, an MAH with a product, a CMO under a quality agreement,
 * two distributors and a dispenser. */
export async function syntheticConsortium(ledger: SyntheticLedger = createSyntheticLedger()) {
  const regulator = await ledger.bootstrap();
  const mah = await ledger.onboard(regulator, Role.Mah, "Suzhou B-Pharma");
  const cmo = await ledger.onboard(regulator, Role.Cmo, "Hangzhou CMO");
  const distributor = await ledger.onboard(regulator, Role.Distributor, "Nanjing Wholesale");
  const distributor2 = await ledger.onboard(regulator, Role.Distributor, "Shanghai Cold Chain");
  const dispenser = await ledger.onboard(regulator, Role.Dispenser, "Suzhou Hospital Pharmacy");
  const productId = await ledger.registerProduct(mah);
  const agreementId = await ledger.signAgreement(mah, cmo, productId);
  /** Records a batch of `quantity` and releases it from the factory and to the market. */
  async function releasedBatch(batchNumber: string, quantity: number) {
    const batchId = await ledger.recordBatch(cmo, mah, productId, agreementId, batchNumber, quantity);
    await ledger.releaseFromFactory(cmo, batchId);
    await ledger.releaseToMarket(mah, batchId);
    return batchId;
  }
  return { ledger, regulator, mah, cmo, distributor, distributor2, dispenser, productId, agreementId, releasedBatch };
}

export type SyntheticConsortium = Awaited<ReturnType<typeof syntheticConsortium>>;
