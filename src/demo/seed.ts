import { randomBytes } from "node:crypto";
import { AbiCoder, id as hashText, keccak256, Wallet, ZeroHash } from "ethers";
import type { BaseWallet, ContractTransactionReceipt, Signer } from "ethers";
import {
  AggregationLedger__factory,
  AlertCases__factory,
  BatchLedger__factory,
  ConsortiumRegistry__factory,
  CorrectiveActions__factory,
  ProductRegistry__factory,
  QualityDuties__factory,
  SupervisionRecords__factory,
} from "../../typechain-types";
import {
  AgreementKind,
  BatchImpact,
  CaseStatus,
  createNonceSequence,
  DeviationCategory,
  DeviationKind,
  DeviationSeverity,
  domainOf,
  InspectionGrade,
  InspectionScope,
  NoticeKind,
  PackState,
  PersonRole,
  previousQuarter,
  quarterAt,
  RecallLevel,
  ReleaseTester,
  RiskClass,
  RiskLevel,
  RootCause,
  signAttestation,
} from "../ledger";
import { alertCaseKey, alertKeyHash, SuspectOutcome } from "../ledger";
import { eventAlertKey } from "../alerts/events";
import type { AttestationType, LedgerContract } from "../ledger";
import { aggregationTree, buildCodeTree, formatCode, generatePacks, packId, packLeaf, withCheckDigit } from "../codes";
import type { Gs1Pack, NmpaPack } from "../codes";
import type { Deployment } from "../indexer";
import { chinaDate } from "../ledger/china-time";
import { endOfChinaDay } from "../ledger/expiry";
import { JIANGSU_REGULATOR, ONBOARDED_BY_JIANGSU, ONBOARDED_BY_ZHEJIANG, PRODUCTS, ROLE_NUMBER } from "./organizations";
import type { DemoMember, DemoOrganization } from "./organizations";

const DAY = 24 * 3600;

/** A demo batch's codes as printed on its packs, to register with the API's code book. */
export type DemoBatch = {
  batchId: string;
  batchNumber: string;
  product: string;
  cmoId: number;
  codes: string[];
  /** Its cases and pallets by canonical key, to register with the API once the commitment is indexed. */
  aggregates?: { container: string; contents: string[] }[];
};

/** A code to try at the scanner and the verdict it should get. */
export type ScanSample = { kind: string; verdict: string; code: string; digitalLink?: string; note: string };

/** A quality document the demo uploads once the ledger is indexed: the bytes an attestation of the batch records. */
export type DemoDocument = { batchId: string; uploaderId: number; fileName: string; mediaType: string; content: string };

/** A reason the demo signed as its hash, with its words: kept like POST /v1/reasons keeps them, so pages show words. */
export type DemoReason = { organizationId: number; text: string };

export type DemoSeed = {
  organizations: DemoOrganization[];
  batches: DemoBatch[];
  samples: ScanSample[];
  documents: DemoDocument[];
  reasons: DemoReason[];
};

export type SeedOptions = {
  deployment: Deployment;
  /** A funded account that relays every attestation (pays gas, gains no authority). */
  relayer: Signer;
  /** The bootstrap regulator's key (organization 1). */
  regulatorKey: BaseWallet;
  /** Block time of the chain now, in seconds: the history's dates are set back from it. */
  now: number;
};

type Party = DemoOrganization & { key: BaseWallet };

/**
 * Records the demo history on a freshly deployed ledger: the consortium, two products, quality, storage,
 * transport and sales agreements, and four batches taken through deviations, releases, outsourced storage,
 * distribution, dispensing and a partly acknowledged recall. Returns the organizations' keys, each batch's codes
 * and the codes to scan.
 */
export async function seedDemo(options: SeedOptions): Promise<DemoSeed> {
  const { deployment, relayer, now } = options;
  const { contracts } = deployment;
  const registry = ConsortiumRegistry__factory.connect(contracts.ConsortiumRegistry, relayer);
  const productRegistry = ProductRegistry__factory.connect(contracts.ProductRegistry, relayer);
  const ledger = BatchLedger__factory.connect(contracts.BatchLedger, relayer);
  const aggregations = AggregationLedger__factory.connect(contracts.AggregationLedger, relayer);
  const alertCases = AlertCases__factory.connect(contracts.AlertCases, relayer);
  const capas = CorrectiveActions__factory.connect(contracts.CorrectiveActions, relayer);
  const qualityDuties = QualityDuties__factory.connect(contracts.QualityDuties, relayer);
  const supervision = SupervisionRecords__factory.connect(contracts.SupervisionRecords, relayer);
  const nextNonce = createNonceSequence();
  const reasons: DemoReason[] = [];
  /** The hash `by` signs for a reason, keeping its words for the API. */
  const reason = (by: Party, text: string) => {
    reasons.push({ organizationId: by.organizationId, text });
    return hashText(text);
  };

  async function sign<C extends LedgerContract>(contract: C, type: AttestationType<C>, by: Party, message: Record<string, unknown>) {
    const full = { nonce: nextNonce(), ...message };
    return { message: full as never, signature: await signAttestation(by.key, { domain: domainOf(deployment, contract), type, message: full }) };
  }
  const mined = async <R>(sent: Promise<{ wait(): Promise<R> }>) => (await sent).wait();

  // ---- the consortium ----
  const jiangsu = partyOf(JIANGSU_REGULATOR, 1, options.regulatorKey);
  async function onboardAll<K extends string>(regulator: Party, members: Record<K, DemoMember>) {
    const firstId = Number(await registry.organizationCount()) + 1;
    const entries = Object.entries<DemoMember>(members);
    const parties = entries.map(([name, member], i) => [name, partyOf(member, firstId + i, Wallet.createRandom())] as const);
    const calls = await Promise.all(
      parties.map(async ([, party], i) => {
        const { message, signature } = await sign("ConsortiumRegistry", "Onboarding", regulator, {
          regulatorId: regulator.organizationId,
          role: ROLE_NUMBER[party.role],
          region: party.region,
          licenceHash: hashText((entries[i] as [string, DemoMember])[1].licence),
          signingKey: party.address,
          name: party.name,
        });
        return registry.interface.encodeFunctionData("onboardOrganization", [message, signature]);
      }),
    );
    await mined(registry.multicall(calls));
    return Object.fromEntries(parties) as Record<K, Party>;
  }
  const east = await onboardAll(jiangsu, ONBOARDED_BY_JIANGSU);
  const west = await onboardAll(east.zhejiangRegulator, ONBOARDED_BY_ZHEJIANG);
  const { mah, storage, nanjing, hospital } = east;
  const { cmo, hangzhou, laboratory } = west;

  // ---- products and agreements ----
  for (const product of Object.values(PRODUCTS)) {
    const { message, signature } = await sign("ProductRegistry", "ProductRegistration", mah, {
      mahId: mah.organizationId,
      productCode: product.productCode,
      approvalNumber: product.approvalNumber,
      name: product.name,
    });
    await mined(productRegistry.registerProduct(message, signature));
  }
  const productId = (code: string) => hashText(code);
  async function agree(counterparty: Party, kind: number, product: string, document: string, releaseTester: number = ReleaseTester.None) {
    const message = {
      mahId: mah.organizationId,
      nonce: nextNonce(),
      kind,
      counterpartyId: counterparty.organizationId,
      productId: product,
      documentHash: hashText(document),
      validFrom: now - 400 * DAY,
      validUntil: now + 3 * 365 * DAY,
      releaseTester,
    };
    const byMah = await sign("ProductRegistry", "Agreement", mah, message);
    const byCounterparty = await sign("ProductRegistry", "Agreement", counterparty, message);
    await mined(productRegistry.signAgreement(byMah.message, byMah.signature, byCounterparty.signature));
    return productRegistry.agreementId(mah.organizationId, message.nonce);
  }
  const atorvastatin = productId(PRODUCTS.atorvastatin.productCode);
  const metformin = productId(PRODUCTS.metformin.productCode);
  const atorvastatinQuality = await agree(cmo, AgreementKind.Quality, atorvastatin, "质量协议 QA-HK-HC-2024-007 阿托伐他汀钙片", ReleaseTester.Cmo);
  const ceftriaxone = productId(PRODUCTS.ceftriaxone.productCode);
  // Metformin's release testing is outsourced to the contract laboratory: its batches leave the factory only with
  // the laboratory's passed certificate on the ledger.
  const metforminQuality = await agree(
    cmo,
    AgreementKind.Quality,
    metformin,
    "质量协议 QA-HK-HC-2024-008 盐酸二甲双胍缓释片",
    ReleaseTester.ContractLaboratory,
  );
  const ceftriaxoneQuality = await agree(cmo, AgreementKind.Quality, ceftriaxone, "质量协议 QA-HK-HC-2025-002 注射用头孢曲松钠", ReleaseTester.Cmo);
  const metforminTesting = await agree(laboratory, AgreementKind.Testing, metformin, "委托检验协议 QC-HK-HT-2025-001 盐酸二甲双胍缓释片");
  // The MAH (Jiangsu) commissions a CMO in Zhejiang: each quality agreement takes effect once Zhejiang's regulator
  // has given its opinion and Jiangsu's has approved it.
  const zhejiang = east.zhejiangRegulator;
  for (const [agreementId, number] of [
    [atorvastatinQuality, "2024-007"],
    [metforminQuality, "2024-008"],
    [ceftriaxoneQuality, "2025-002"],
  ] as const) {
    for (const [type, regulator, document] of [
      ["AgreementOpinion", zhejiang, `浙药监 跨省委托生产意见 ${number}`],
      ["AgreementApproval", jiangsu, `苏药监 跨省委托生产许可 ${number}`],
    ] as const) {
      const review = await sign("ProductRegistry", type, regulator, {
        regulatorId: regulator.organizationId,
        agreementId,
        documentHash: hashText(document),
      });
      await mined(
        type === "AgreementOpinion"
          ? productRegistry.giveAgreementOpinion(review.message, review.signature)
          : productRegistry.approveAgreement(review.message, review.signature),
      );
    }
  }
  await agree(storage, AgreementKind.Storage, ZeroHash, "委托储存协议 WH-HK-ST-2024-002");
  await agree(storage, AgreementKind.Transport, ZeroHash, "委托运输协议 TR-HK-ST-2024-003");
  await agree(nanjing, AgreementKind.Sales, ZeroHash, "委托销售协议 SA-HK-JL-2024-011");

  // ---- the MAH's quality duties: risk classes, its quality authorized person, quarterly reviews ----
  const classify = async (product: string, riskClass: number) => {
    const { message, signature } = await sign("QualityDuties", "RiskClassification", mah, {
      mahId: mah.organizationId,
      productId: product,
      riskClass,
    });
    await mined(qualityDuties.classifyProduct(message, signature));
  };
  await classify(atorvastatin, RiskClass.Other);
  await classify(metformin, RiskClass.Other);
  await classify(ceftriaxone, RiskClass.Sterile);
  // The QP signs with a key of her own, registered to the MAH; market releases of her products need it.
  const qp: Party = { ...mah, key: Wallet.createRandom() };
  const addedKey = await sign("ConsortiumRegistry", "SigningKeyAddition", mah, { organizationId: mah.organizationId, signingKey: qp.key.address });
  await mined(registry.addSigningKey(addedKey.message, addedKey.signature));
  const appoint = async (product: string, personKey: string, role: number, name: string) => {
    const { message, signature } = await sign("QualityDuties", "PersonAppointment", mah, {
      mahId: mah.organizationId,
      productId: product,
      personKey,
      role,
      name,
    });
    await mined(qualityDuties.appointPerson(message, signature));
  };
  const qpName = "张丽华 Zhang Lihua";
  await appoint(atorvastatin, qp.key.address, PersonRole.QualifiedPerson, qpName);
  await appoint(ceftriaxone, qp.key.address, PersonRole.QualifiedPerson, qpName);
  await appoint(atorvastatin, mah.address, PersonRole.QualityHead, "李建国 Li Jianguo");
  // Reviews of the last quarter and the one before it are filed; the quarter between is missing, so its review is
  // overdue whatever day the demo starts (the early warning raises quality_review_overdue).
  const lastQuarter = previousQuarter(quarterAt(now));
  const review = async (product: string, quarter: { year: number; quarter: number }, riskLevel: number, report: string) => {
    const { message, signature } = await sign("QualityDuties", "QualityReview", mah, {
      mahId: mah.organizationId,
      productId: product,
      year: quarter.year,
      quarter: quarter.quarter,
      riskLevel,
      reviewHash: hashText(report),
    });
    await mined(qualityDuties.fileQualityReview(message, signature));
  };
  const twoBefore = previousQuarter(previousQuarter(lastQuarter));
  await review(atorvastatin, twoBefore, RiskLevel.Low, `季度质量回顾 ${twoBefore.year}Q${twoBefore.quarter} 阿托伐他汀钙片：风险低`);
  await review(
    atorvastatin,
    lastQuarter,
    RiskLevel.Medium,
    `季度质量回顾 ${lastQuarter.year}Q${lastQuarter.quarter} 阿托伐他汀钙片：OOS 与召回，风险中`,
  );
  await review(metformin, lastQuarter, RiskLevel.Low, `季度质量回顾 ${lastQuarter.year}Q${lastQuarter.quarter} 盐酸二甲双胍缓释片：风险低`);

  // The atorvastatin quality agreement's communication clause: notices by email or the quality portal, acknowledged
  // within 48 hours. The CMO's change control was acknowledged; the MAH's audit finding is still unanswered (it
  // turns into notice_acknowledgement_overdue 48 hours after the demo starts).
  const terms = await sign("QualityDuties", "CommunicationTerms", mah, {
    mahId: mah.organizationId,
    agreementId: atorvastatinQuality,
    channels: (1 << 1) | (1 << 3),
    responseSeconds: 48 * 3600,
    termsHash: hashText("质量协议 QA-HK-HC-2024-007 第 9 条 沟通与通报"),
  });
  await mined(qualityDuties.agreeCommunicationTerms(terms.message, terms.signature));
  // The CMO countersigns the same channels, response time and clause: notices flow only once both signed.
  const { channels, responseSeconds, termsHash } = terms.message as { channels: number; responseSeconds: number; termsHash: string };
  const countersignature = await sign("QualityDuties", "TermsCountersignature", cmo, {
    cmoId: cmo.organizationId,
    agreementId: atorvastatinQuality,
    channels,
    responseSeconds,
    termsHash,
  });
  await mined(qualityDuties.countersignCommunicationTerms(countersignature.message, countersignature.signature));
  const notify = async (by: Party, kind: number, channel: number, notice: string) => {
    const { message, signature } = await sign("QualityDuties", "QualityNotice", by, {
      senderId: by.organizationId,
      agreementId: atorvastatinQuality,
      kind,
      channel,
      noticeHash: hashText(notice),
    });
    await mined(qualityDuties.sendNotice(message, signature));
    return keccak256(AbiCoder.defaultAbiCoder().encode(["uint32", "uint256"], [by.organizationId, (message as { nonce: bigint }).nonce]));
  };
  const changeControl = await notify(cmo, NoticeKind.ChangeControl, 3, "变更控制 CC-2025-014 压片机更换冲模供应商");
  const acknowledgement = await sign("QualityDuties", "NoticeAcknowledgement", mah, {
    recipientId: mah.organizationId,
    noticeId: changeControl,
    responseHash: hashText("已收到 CC-2025-014，同意按次要变更管理"),
  });
  await mined(qualityDuties.acknowledgeNotice(acknowledgement.message, acknowledgement.signature));
  await notify(mah, NoticeKind.AuditFinding, 1, "审计发现 AUD-2025-07 清场记录未双人复核");

  // Metformin is on the national shortage list (listed by the Jiangsu regulator): the MAH reports the planned stop
  // of its production half a year ahead, as a shortage drug's MAH must before stopping.
  const listing = await sign("QualityDuties", "ShortageListing", jiangsu, {
    organizationId: jiangsu.organizationId,
    productId: metformin,
    listed: true,
    basisHash: hashText("国家短缺药品清单 2025 年版 第 37 项 盐酸二甲双胍缓释片"),
  });
  await mined(qualityDuties.changeShortageListing(listing.message, listing.signature));
  const stopReport = await sign("QualityDuties", "StopProductionReport", mah, {
    mahId: mah.organizationId,
    productId: metformin,
    stopAt: now + 180 * DAY,
    reportHash: hashText("停产报告 盐酸二甲双胍缓释片：生产线改造，停产 3 个月，已安排替代产能"),
  });
  await mined(qualityDuties.reportStopProduction(stopReport.message, stopReport.signature));

  // ---- batches ----
  const serialKeys = { atorvastatin: randomBytes(16), metformin: randomBytes(16), ceftriaxone: randomBytes(16) };
  const issued = { atorvastatin: 0, metformin: 0, ceftriaxone: 0 };
  async function record(product: keyof typeof PRODUCTS, agreementId: string, batchNumber: string, count: number, daysAgo: number) {
    const { scheme, productCode } = PRODUCTS[product];
    const manufacturedAt = now - daysAgo * DAY;
    const expiry = expiryOf(manufacturedAt);
    const packs = [
      ...generatePacks({
        scheme,
        productCode,
        key: serialKeys[product],
        firstIndex: issued[product],
        count,
        ...(scheme === "gs1" ? { batch: batchNumber, expiry: expiry.yymmdd } : {}),
      }),
    ] as (Gs1Pack | NmpaPack)[];
    issued[product] += count;
    const tree = await buildCodeTree(packs.map((p) => p.key));
    const { message, signature } = await sign("BatchLedger", "BatchRecord", cmo, {
      cmoId: cmo.organizationId,
      agreementId,
      batchNumber,
      quantity: BigInt(count),
      manufacturedAt,
      expiresAt: expiry.expiresAt,
      batchRecordHash: hashText(`批生产记录 ${batchNumber}`),
      codesRoot: tree.root,
    });
    await mined(ledger.recordBatch(message, signature));
    const batchId = await ledger.batchId(productId(productCode), batchNumber);
    const printed = packs.map((p) => formatCode(p, p.scheme === "gs1" ? "element-string" : "nmpa"));
    return { batchId, batchNumber, product, packs, tree, printed };
  }
  type Recorded = Awaited<ReturnType<typeof record>>;

  type Classification = { kind: number; severity: number; category: number };
  type Conclusion = { by: Party; text: string; rootCause: number; batchImpact: number };
  const deviation = async (by: Party, batch: Recorded, { kind, severity, category }: Classification, report: string, closure?: Conclusion) => {
    const opened = await sign("BatchLedger", "DeviationReport", by, {
      organizationId: by.organizationId,
      batchId: batch.batchId,
      kind,
      severity,
      category,
      reportHash: hashText(report),
    });
    await mined(ledger.openDeviation(opened.message, opened.signature));
    if (!closure) return;
    const closed = await sign("BatchLedger", "DeviationClosure", closure.by, {
      organizationId: closure.by.organizationId,
      batchId: batch.batchId,
      reportHash: hashText(report),
      rootCause: closure.rootCause,
      batchImpact: closure.batchImpact,
      closureHash: hashText(closure.text),
    });
    await mined(ledger.closeDeviation(closed.message, closed.signature));
  };
  const documents: DemoDocument[] = [];
  const document = (batch: Recorded, uploader: Party, fileName: string, content: string) =>
    documents.push({ batchId: batch.batchId, uploaderId: uploader.organizationId, fileName, mediaType: "text/plain; charset=utf-8", content });
  const factoryRelease = async (batch: Recorded) => {
    const { message, signature } = await sign("BatchLedger", "FactoryRelease", cmo, {
      cmoId: cmo.organizationId,
      batchId: batch.batchId,
      certificateHash: hashText(`出厂放行审核单 ${batch.batchNumber}`),
    });
    await mined(ledger.releaseFromFactory(message, signature));
  };
  /** Signed by the product's QP where it has one. */
  const marketRelease = async (batch: Recorded, signer: Party = mah) => {
    const { message, signature } = await sign("BatchLedger", "MarketRelease", signer, {
      mahId: mah.organizationId,
      batchId: batch.batchId,
      decisionHash: hashText(`上市放行审核记录 ${batch.batchNumber}`),
      // the QP's name and role go into the attestation; the MAH's own key names no person
      ...(signer === qp ? { signerRole: PersonRole.QualifiedPerson, signerName: qpName } : { signerRole: PersonRole.Organization, signerName: "" }),
    });
    await mined(ledger.releaseToMarket(message, signature));
  };
  /** The contract laboratory certifies a metformin batch's release testing. */
  const certify = async (batch: Recorded, passed = true) => {
    const { message, signature } = await sign("QualityDuties", "TestCertificate", laboratory, {
      laboratoryId: laboratory.organizationId,
      agreementId: metforminTesting,
      batchId: batch.batchId,
      certificateHash: hashText(`检验报告书 ${batch.batchNumber}`),
      passed,
    });
    await mined(qualityDuties.issueTestCertificate(message, signature));
  };
  /** Ships and receives; `received` below `quantity` records packs lost or damaged on the way. */
  const handOver = async (from: Party, to: Party, batch: Recorded, quantity: number, received = quantity) => {
    const shipment = await sign("BatchLedger", "Shipment", from, {
      shipperId: from.organizationId,
      batchId: batch.batchId,
      recipientId: to.organizationId,
      quantity: BigInt(quantity),
      codesRoot: ZeroHash,
    });
    await mined(ledger.shipBatch(shipment.message, shipment.signature));
    const shipmentId = await ledger.shipmentId(from.organizationId, (shipment.message as { nonce: bigint }).nonce);
    const receipt = await sign("BatchLedger", "Receipt", to, {
      recipientId: to.organizationId,
      shipmentId,
      batchId: batch.batchId,
      shipperId: from.organizationId,
      shippedQuantity: BigInt(quantity),
      receivedQuantity: BigInt(received),
    });
    return mined(ledger.receiveShipment(receipt.message, receipt.signature));
  };
  const dispense = async (batch: Recorded, packs: (Gs1Pack | NmpaPack)[]) => {
    const keys = packs.map((p) => p.key);
    const multi = batch.tree.multiProof(keys);
    const byLeaf = new Map(keys.map((key) => [packLeaf(key), key]));
    const { message, signature } = await sign("BatchLedger", "Dispensing", hospital, {
      dispenserId: hospital.organizationId,
      batchId: batch.batchId,
      packs: multi.leaves.map((leaf) => packId(byLeaf.get(leaf) as string)),
    });
    await mined(ledger.dispensePacks(message, multi.proof, multi.proofFlags, signature));
  };

  // Atorvastatin AT250301: a deviation found and closed, released, stored in Shanghai, sold through Nanjing,
  // three packs dispensed at the hospital.
  // The deviation is major, so the MAH closes it; its report and closure are documents both read. Its CAPA failed
  // its effectiveness check (the press drifted again), which the early warning raises; a second CAPA is open.
  const sold = await record("atorvastatin", atorvastatinQuality, "AT250301", 60, 75);
  await deviation(
    cmo,
    sold,
    { kind: DeviationKind.Deviation, severity: DeviationSeverity.Major, category: DeviationCategory.Equipment },
    DEV_031_REPORT,
    { by: mah, text: DEV_031_CLOSURE, rootCause: RootCause.Machine, batchImpact: BatchImpact.NoImpact },
  );
  document(sold, cmo, "DEV-2025-031 偏差报告.txt", DEV_031_REPORT);
  document(sold, mah, "DEV-2025-031 偏差关闭.txt", DEV_031_CLOSURE);
  const capa = async (batch: Recorded, by: Party, report: string, plan: string, owner: Party, dueAt: number) => {
    const { message, signature } = await sign("CorrectiveActions", "CapaRecord", by, {
      organizationId: by.organizationId,
      batchId: batch.batchId,
      reportHash: hashText(report),
      capaHash: hashText(plan),
      ownerId: owner.organizationId,
      dueAt,
    });
    await mined(capas.recordCapa(message, signature));
  };
  await capa(sold, cmo, DEV_031_REPORT, CAPA_031_PLAN, cmo, now + 30 * DAY);
  document(sold, cmo, "CAPA-2025-031 纠正预防措施.txt", CAPA_031_PLAN);
  const check = await sign("CorrectiveActions", "EffectivenessCheck", mah, {
    mahId: mah.organizationId,
    batchId: sold.batchId,
    capaHash: hashText(CAPA_031_PLAN),
    effective: false,
    checkHash: hashText(CAPA_031_CHECK),
  });
  await mined(capas.checkCapaEffectiveness(check.message, check.signature));
  document(sold, mah, "CAPA-2025-031 有效性检查.txt", CAPA_031_CHECK);
  await capa(sold, cmo, DEV_031_REPORT, CAPA_031_PLAN_2, cmo, now + 60 * DAY);
  // The MAH's own supplier-audit CAPA was due minutes after it was recorded (the contract refuses a due date
  // already past) and is never checked: capa_overdue is open as soon as the demo runs.
  const shortlyAfter = (await relayer.provider!.getBlock("latest"))!.timestamp + CAPA_OVERDUE_AFTER_SECONDS;
  await capa(sold, mah, DEV_031_REPORT, CAPA_031_SUPPLIER_AUDIT, mah, shortlyAfter);
  await factoryRelease(sold);
  await marketRelease(sold, qp);
  // Packed at the factory in six cases of ten on one pallet (SSCCs); the hospital takes the three packs it
  // dispenses out of the first case, which then scans as holding seven.
  const soldCases = Array.from({ length: 6 }, (_, i) => ({
    container: `(00)${withCheckDigit(`069012345${String(250301_00 + i).padStart(8, "0")}`)}`,
    contents: sold.packs.slice(i * 10, i * 10 + 10).map((p) => p.key),
  }));
  const soldAggregates = [...soldCases, { container: `(00)${withCheckDigit("16901234525030190")}`, contents: soldCases.map((c) => c.container) }];
  const soldTree = aggregationTree(soldAggregates.map((a) => ({ ...a, contentsRoot: "" })));
  const commitment = await sign("AggregationLedger", "AggregationCommitment", cmo, {
    cmoId: cmo.organizationId,
    batchId: sold.batchId,
    aggregationRoot: soldTree.root,
    containers: soldTree.containers,
    packs: soldTree.packs,
  });
  await mined(aggregations.commitAggregation(commitment.message, commitment.signature));
  await handOver(cmo, storage, sold, 60);
  await handOver(storage, nanjing, sold, 30);
  await handOver(nanjing, hospital, sold, 12);
  const picked = soldTree.multiProof(soldCases[0]!.container, soldCases[0]!.contents.slice(0, 3));
  const unpacking = await sign("AggregationLedger", "Unpacking", hospital, {
    organizationId: hospital.organizationId,
    batchId: sold.batchId,
    containerId: packId(soldCases[0]!.container),
    units: picked.units,
  });
  await mined(aggregations.unpackUnits(unpacking.message, picked.proof, picked.proofFlags, unpacking.signature));
  await dispense(sold, sold.packs.slice(0, 3));

  // Atorvastatin AT250415: an out-of-specification result investigated and closed, released and distributed in
  // three provinces, then recalled (level II); Shanghai and Nanjing have acknowledged, Hangzhou has not yet.
  const recalled = await record("atorvastatin", atorvastatinQuality, "AT250415", 40, 40);
  await deviation(
    cmo,
    recalled,
    { kind: DeviationKind.OutOfSpecification, severity: DeviationSeverity.Minor, category: DeviationCategory.Laboratory },
    "OOS-2025-012 溶出度结果超标",
    { by: cmo, text: "OOS 调查结论：实验室误差，复检合格", rootCause: RootCause.Measurement, batchImpact: BatchImpact.NoImpact },
  );
  await factoryRelease(recalled);
  await marketRelease(recalled, qp);
  await handOver(cmo, storage, recalled, 40);
  await handOver(storage, nanjing, recalled, 20);
  await handOver(storage, hangzhou, recalled, 10);
  const recall = await sign("BatchLedger", "RecallStart", mah, {
    organizationId: mah.organizationId,
    batchId: recalled.batchId,
    level: RecallLevel.II,
    reasonHash: reason(mah, "二级召回：稳定性考察中有关物质超标趋势"),
  });
  await mined(ledger.startRecall(recall.message, recall.signature));
  // Each acknowledgement accounts for the whole holding: Nanjing quarantined 18 of its 20, one was destroyed
  // (damaged) and one cannot be found, which the early warning flags.
  let shortfall: Awaited<ReturnType<typeof mined<ContractTransactionReceipt | null>>> = null;
  const accounts = [
    [storage, { quarantinedQuantity: 10n, dispensedQuantity: 0n, destroyedQuantity: 0n, missingQuantity: 0n }],
    [nanjing, { quarantinedQuantity: 18n, dispensedQuantity: 0n, destroyedQuantity: 1n, missingQuantity: 1n }],
  ] as const;
  for (const [holder, account] of accounts) {
    const acknowledgement = await sign("BatchLedger", "RecallAcknowledgement", holder, {
      holderId: holder.organizationId,
      batchId: recalled.batchId,
      ...account,
    });
    const acknowledged = await mined(ledger.acknowledgeRecall(acknowledgement.message, acknowledgement.signature));
    if (holder === nanjing) shortfall = acknowledged;
  }

  // Metformin MF250502 (NMPA codes): released by the MAH's own QA, distributed from Hangzhou to the hospital, which
  // received one pack fewer than shipped (crushed in transit): the early warning flags the difference.
  const metforminSold = await record("metformin", metforminQuality, "MF250502", 50, 20);
  await certify(metforminSold);
  await factoryRelease(metforminSold);
  await marketRelease(metforminSold);
  await handOver(cmo, hangzhou, metforminSold, 50);
  const shortReceipt = await handOver(hangzhou, hospital, metforminSold, 20, 19);
  await dispense(metforminSold, metforminSold.packs.slice(0, 2));

  // Metformin MF250610: released by the factory, but an out-of-trend result is still open, so no market release.
  const held = await record("metformin", metforminQuality, "MF250610", 30, 5);
  await certify(held);
  await factoryRelease(held);
  await deviation(
    mah,
    held,
    { kind: DeviationKind.OutOfTrend, severity: DeviationSeverity.Minor, category: DeviationCategory.Laboratory },
    "OOT-2025-004 含量趋势异常，待调查",
  );

  // Metformin MF250520: released and distributed to Hangzhou, then an out-of-specification result on a retained
  // sample, critical: the opened OOS holds the batch until the MAH decides (no shipping or dispensing; scans answer
  // ON_HOLD).
  const onHold = await record("metformin", metforminQuality, "MF250520", 30, 5);
  await certify(onHold);
  await factoryRelease(onHold);
  await marketRelease(onHold);
  await handOver(cmo, hangzhou, onHold, 20);
  await deviation(
    mah,
    onHold,
    { kind: DeviationKind.OutOfSpecification, severity: DeviationSeverity.Critical, category: DeviationCategory.Laboratory },
    "OOS-2025-019 留样含量检测结果超标，调查中",
  );

  // ---- supervision: alert cases and a suspect-product report (AlertCases) ----
  /** The key of the alert the engine will raise from the event `name` in `receipt`, by the engine's own rule. */
  const alertKeyOf = (rule: string, receipt: ContractTransactionReceipt | null, name: string) => {
    const log = receipt!.logs.find((l) => ledger.interface.parseLog(l)?.name === name)!;
    return eventAlertKey(rule, receipt!.blockHash, log.index);
  };
  const takeCase = async (by: Party, alertKey: string, subject: Party) => {
    const { message, signature } = await sign("AlertCases", "AlertTaking", by, {
      organizationId: by.organizationId,
      alertKey: alertKeyHash(alertKey),
      subjectId: subject.organizationId,
    });
    await mined(alertCases.takeAlert(message, signature));
  };
  const moveCase = async (by: Party, alertKey: string, subject: Party, status: number, text: string) => {
    const { message, signature } = await sign("AlertCases", "AlertStatusChange", by, {
      organizationId: by.organizationId,
      caseKey: alertCaseKey(alertKey, subject.organizationId),
      status,
      reasonHash: reason(by, text),
    });
    await mined(alertCases.changeAlertStatus(message, signature));
  };
  // Hangzhou, the shipper the short receipt is about, takes its alert and investigates.
  const shortReceiptAlert = alertKeyOf("receipt_quantity_mismatch", shortReceipt, "ShipmentReceived");
  await takeCase(hangzhou, shortReceiptAlert, hangzhou);
  await moveCase(hangzhou, shortReceiptAlert, hangzhou, CaseStatus.UnderInvestigation, "与承运商核对运输破损记录");
  // The Jiangsu regulator takes Nanjing's recall shortfall and closes it with its finding.
  const shortfallAlert = alertKeyOf("recall_acknowledgement_shortfall", shortfall, "RecallAcknowledged");
  await takeCase(jiangsu, shortfallAlert, nanjing);
  await moveCase(jiangsu, shortfallAlert, nanjing, CaseStatus.UnderInvestigation, "现场检查南京仓库");
  await moveCase(jiangsu, shortfallAlert, nanjing, CaseStatus.Closed, "现场检查确认缺失的1盒已随破损品销毁，补录销毁记录，结案");
  // Nanjing finds a pack of AT250301 with a blurred print: it locks the pack and reports it; the Jiangsu regulator
  // has the MAH compare it with retained samples, terminates the report as cleared, and Nanjing unlocks the pack.
  const suspectPack = sold.packs[25]!;
  const multi = sold.tree.multiProof([suspectPack.key]);
  const lockPack = async (state: number, text: string) => {
    const { message, signature } = await sign("BatchLedger", "PackStateChange", nanjing, {
      organizationId: nanjing.organizationId,
      batchId: sold.batchId,
      state,
      packs: [packId(suspectPack.key)],
      reasonHash: reason(nanjing, text),
    });
    await mined(ledger.changePackStates(message, multi.proof, multi.proofFlags, signature));
  };
  await lockPack(PackState.Locked, "可疑：标签印刷模糊");
  const report = await sign("AlertCases", "SuspectReport", nanjing, {
    organizationId: nanjing.organizationId,
    batchId: sold.batchId,
    packs: [packId(suspectPack.key)],
    reasonHash: reason(nanjing, "可疑产品报告：标签印刷模糊，防伪特征不清"),
  });
  await mined(alertCases.fileSuspectReport(report.message, multi.proof, multi.proofFlags, report.signature));
  const termination = await sign("AlertCases", "SuspectTermination", jiangsu, {
    regulatorId: jiangsu.organizationId,
    reportId: await alertCases.suspectReportId(nanjing.organizationId, (report.message as { nonce: bigint }).nonce),
    outcome: SuspectOutcome.Cleared,
    reasonHash: reason(jiangsu, "与留样比对确认为正品：印刷批次差异，准予解除锁定"),
  });
  await mined(alertCases.terminateSuspectReport(termination.message, termination.signature));
  await lockPack(PackState.Active, "可疑产品报告已由监管部门终止：正品");

  // Ceftriaxone CE250801 (sterile): the CMO references the cleanroom's environmental monitoring and the line's
  // cleaning record in the batch record before factory release; the QP signs the market release.
  const sterile = await record("ceftriaxone", ceftriaxoneQuality, "CE250801", 20, 10);
  const sterileRecords = await sign("QualityDuties", "SterileRecords", cmo, {
    cmoId: cmo.organizationId,
    batchId: sterile.batchId,
    environmentalMonitoringHash: hashText(`环境监测记录 B级洁净区 ${sterile.batchNumber}`),
    cleaningRecordHash: hashText(`清场记录 无菌分装线3 ${sterile.batchNumber}`),
  });
  await mined(qualityDuties.referenceSterileRecords(sterileRecords.message, sterileRecords.signature));
  await factoryRelease(sterile);
  // A sterile batch reaches the market only once the MAH approved the retained samples its CMO recorded.
  const { expiresAt } = await ledger.batch(sterile.batchId);
  const retained = await sign("QualityDuties", "RetainedSamples", cmo, {
    cmoId: cmo.organizationId,
    batchId: sterile.batchId,
    quantity: 24,
    retainUntil: Number(expiresAt) + 366 * DAY,
    location: "留样室 2 号柜 (2–8 °C)",
  });
  await mined(qualityDuties.recordRetainedSamples(retained.message, retained.signature));
  const samplesApproval = await sign("QualityDuties", "RetainedSampleApproval", mah, {
    mahId: mah.organizationId,
    batchId: sterile.batchId,
    approvalHash: hashText(`留样批准 ${sterile.batchNumber}：数量与存放条件符合质量协议`),
  });
  await mined(qualityDuties.approveRetainedSamples(samplesApproval.message, samplesApproval.signature));
  await marketRelease(sterile, qp);

  // ---- supervision ----
  // Licences: each province records its own companies' licences; the MAH's expires within the quarter.
  for (const [regulator, party, licence, validUntil] of [
    [zhejiang, cmo, "药品生产许可证 浙20160093 (2025 换发)", now + 2 * 365 * DAY],
    [jiangsu, mah, "药品生产许可证 苏20250117 (B)", now + 60 * DAY],
    [jiangsu, nanjing, "药品经营许可证 苏AA0250612", now + 3 * 365 * DAY],
  ] as const) {
    const { message, signature } = await sign("ConsortiumRegistry", "LicenceRecord", regulator, {
      regulatorId: regulator.organizationId,
      organizationId: party.organizationId,
      licenceHash: hashText(licence),
      validUntil,
    });
    await mined(registry.recordLicence(message, signature));
  }
  // Zhejiang inspects the CMO; Jiangsu, whose MAH it makes for, recognises the inspection instead of making its own.
  const inspection = await sign("SupervisionRecords", "Inspection", zhejiang, {
    regulatorId: zhejiang.organizationId,
    organizationId: cmo.organizationId,
    site: "浙江华川制药 台州固体制剂车间 Taizhou solid dosage plant",
    scope: InspectionScope.GmpCompliance,
    criticalFindings: 0,
    majorFindings: 1,
    minorFindings: 2,
    grade: InspectionGrade.CompliantWithCorrections,
    inspectedAt: now - 30 * DAY,
    documentHash: hashText("浙药监 GMP符合性检查报告 ZJ-GMP-2025-118"),
  });
  await mined(supervision.recordInspection(inspection.message, inspection.signature));
  const recognition = await sign("SupervisionRecords", "InspectionRecognition", jiangsu, {
    regulatorId: jiangsu.organizationId,
    inspectionId: recordIdOf(zhejiang, (inspection.message as { nonce: bigint }).nonce),
  });
  await mined(supervision.recogniseInspection(recognition.message, recognition.signature));
  // Sampling: Jiangsu's sample of AT250301 at Nanjing passed; Zhejiang's of MF250520 at Hangzhou failed its assay.
  for (const [regulator, batch, at, test, passed] of [
    [jiangsu, sold, nanjing, "溶出度 dissolution (ChP 0931)", true],
    [zhejiang, onHold, hangzhou, "含量测定 assay (HPLC)", false],
  ] as const) {
    const { message, signature } = await sign("SupervisionRecords", "SamplingResult", regulator, {
      regulatorId: regulator.organizationId,
      batchId: batch.batchId,
      sampledAtId: at.organizationId,
      test,
      passed,
      reportHash: hashText(`抽检报告 ${batch.batchNumber} ${test}`),
    });
    await mined(supervision.recordSampling(message, signature));
  }

  const counterfeit = [
    ...generatePacks({
      scheme: "gs1",
      productCode: PRODUCTS.atorvastatin.productCode,
      key: randomBytes(16),
      firstIndex: 0,
      count: 1,
      batch: sold.batchNumber,
      expiry: (sold.packs[0] as Gs1Pack).expiry?.yymmdd as string,
    }),
  ][0] as Gs1Pack;
  // A pack of a product this demo consortium does not hold: the ledger cannot vouch for it either way.
  const elsewhere = [
    ...generatePacks({ scheme: "gs1", productCode: withCheckDigit("0690312345999"), key: randomBytes(16), firstIndex: 0, count: 1 }),
  ][0] as Gs1Pack;
  const sample = (kind: string, verdict: string, pack: Gs1Pack | NmpaPack, note: string): ScanSample => ({
    kind,
    verdict,
    code: formatCode(pack, pack.scheme === "gs1" ? "element-string" : "nmpa"),
    ...(pack.scheme === "gs1" ? { digitalLink: formatCode(pack, "digital-link") } : {}),
    note,
  });
  const samples = [
    sample("genuine", "GENUINE", sold.packs[20] as Gs1Pack, `a pack of ${sold.batchNumber} in stock`),
    sample("recalled", "RECALLED", recalled.packs[5] as Gs1Pack, `batch ${recalled.batchNumber} is under a level II recall`),
    sample("dispensed", "ALREADY_DISPENSED", sold.packs[0] as Gs1Pack, "dispensed at the hospital: a second scan suggests a copied code"),
    sample("unknown", "UNKNOWN_CODE", counterfeit, `a well-formed label of ${sold.batchNumber} whose serial no batch contains`),
    sample("elsewhere", "NOT_ON_LEDGER", elsewhere, "a product this ledger does not hold: verify it with its MAH or the national platform"),
    sample("nmpa", "GENUINE", metforminSold.packs[30] as NmpaPack, `an NMPA-coded pack of ${metforminSold.batchNumber}`),
    sample("unreleased", "NOT_RELEASED", held.packs[0] as NmpaPack, `batch ${held.batchNumber} has an open out-of-trend result`),
    sample(
      "held",
      "ON_HOLD",
      onHold.packs[0] as NmpaPack,
      `batch ${onHold.batchNumber} is on hold: an out-of-specification result is under investigation`,
    ),
    {
      kind: "case",
      verdict: "GENUINE",
      code: `]d200${soldCases[0]!.container.slice(4)}`,
      digitalLink: `https://id.gs1.org/00/${soldCases[0]!.container.slice(4)}`,
      note: `a case of ${sold.batchNumber}: 7 of its 10 packs still inside, 3 taken out at the hospital`,
    },
  ];
  const parties = [jiangsu, ...Object.values<Party>(east), ...Object.values<Party>(west)].sort((a, b) => a.organizationId - b.organizationId);
  return {
    organizations: parties.map(({ key: _key, ...organization }) => organization),
    batches: [sold, recalled, metforminSold, held, onHold, sterile].map((b) => ({
      batchId: b.batchId,
      batchNumber: b.batchNumber,
      product: b.product,
      cmoId: cmo.organizationId,
      codes: b.printed,
      ...(b === sold ? { aggregates: soldAggregates } : {}),
    })),
    samples,
    documents,
    reasons,
  };
}

const DEV_031_REPORT = [
  "偏差报告 DEV-2025-031 压片机转速偏离设定值",
  "批号 AT250301 阿托伐他汀钙片；发现人：杭州合诚制药 压片岗位",
  "描述：第 3 班次压片机转速 38 rpm，设定值 32±3 rpm，持续约 40 分钟。",
  "严重程度：重大（可能影响片重差异与溶出度）；类别：设备设施",
].join("\n");
const DEV_031_CLOSURE = [
  "偏差关闭 CAPA-2025-031 设备重新校准，产品质量不受影响",
  "根本原因：转速传感器漂移（机）。对批次的影响：该时段片剂全检片重与溶出度，均符合标准，无影响。",
  "上市许可持有人质量负责人审核同意关闭。",
].join("\n");
const CAPA_031_PLAN = [
  "纠正预防措施 CAPA-2025-031：更换转速传感器，校准周期由 12 个月缩短为 3 个月；负责人：杭州合诚制药 设备部",
  "有效性检查：三个月内不再发生转速偏离。",
].join("\n");
const CAPA_031_CHECK = "CAPA-2025-031 有效性检查：未通过。更换后第 6 周再次出现转速偏离（36 rpm），需重新调查。";
const CAPA_031_SUPPLIER_AUDIT = "纠正预防措施 CAPA-2025-031-S：持有人对冲模供应商开展现场审计并更新合格供应商名录。";
/** How long after it is recorded the demo's supplier-audit CAPA falls due (so it is overdue once the demo runs). */
const CAPA_OVERDUE_AFTER_SECONDS = 60;
const CAPA_031_PLAN_2 = "纠正预防措施 CAPA-2025-031-R1：排查压片机变频器与控制程序，增加转速在线报警。";
/** The id SupervisionRecords gives a regulator's record: keccak256(abi.encode(regulatorId, nonce)). */
function recordIdOf(regulator: Party, nonce: bigint): string {
  return keccak256(AbiCoder.defaultAbiCoder().encode(["uint32", "uint256"], [regulator.organizationId, nonce]));
}

function partyOf(member: DemoMember, organizationId: number, key: BaseWallet): Party {
  return { organizationId, name: member.name, role: member.role, region: member.region, address: key.address, privateKey: key.privateKey, key };
}

/** Two years after manufacture, printed as (17) YYMMDD; on the ledger the batch expires at the end of that day. */
export function expiryOf(manufacturedAt: number): { yymmdd: string; expiresAt: number } {
  const [year, month, day] = chinaDate(manufacturedAt).split("-").map(Number) as [number, number, number];
  const expiry = `${year + 2}-${String(month).padStart(2, "0")}-${String(Math.min(day, 28)).padStart(2, "0")}`;
  return { yymmdd: expiry.slice(2).replaceAll("-", ""), expiresAt: endOfChinaDay(expiry) };
}
