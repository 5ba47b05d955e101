/**
 * The ledger's vocabulary: each enum of the contracts (contracts/interfaces) once, with the number the chain
 * uses, the name the read model stores and the API answers, and the words messages use. Every other list of
 * roles, levels or states is derived from these.
 */

/** One enum: `names` in the contract's order (index = the chain's number), as the read model stores them. */
type LedgerEnum<Stored extends string> = {
  /** The stored name of each chain number. */
  readonly names: readonly Stored[];
  /** Words for each chain number, for messages. */
  readonly words: readonly string[];
  /** Chinese words for each chain number, where pages and messages show them in both languages. */
  readonly zh?: readonly string[];
  /** The stored name of a chain number, or the enum's NONE for a number out of range. */
  nameOf(value: number | bigint): Stored;
};

function ledgerEnum<const Stored extends string>(names: readonly Stored[], words: readonly string[], zh?: readonly string[]): LedgerEnum<Stored> {
  return { names, words, zh, nameOf: (value) => names[Number(value)] ?? names[0]! };
}

/** Organization roles: contracts/interfaces/IConsortiumRegistry.sol `Role`. */
export const Role = { None: 0, Mah: 1, Cmo: 2, Distributor: 3, Dispenser: 4, Regulator: 5, Laboratory: 6 } as const;
export const ROLES = ledgerEnum(
  ["NONE", "MAH", "CMO", "DISTRIBUTOR", "DISPENSER", "REGULATOR", "LABORATORY"],
  ["no role", "MAH", "CMO", "distributor", "dispenser", "regulator", "contract laboratory"],
);
export type RoleName = (typeof ROLES.names)[number];

/** The province of a region code (GB/T 2260: the first two digits). */
export function provinceOf(region: number): number {
  return Math.floor(region / 10_000) * 10_000;
}

/** contracts/interfaces/IConsortiumRegistry.sol `OrganizationStatus`. */
export const ORGANIZATION_STATUSES = ledgerEnum(["NONE", "ACTIVE", "SUSPENDED"], ["unknown", "active", "suspended"]);
export type OrganizationStatusName = (typeof ORGANIZATION_STATUSES.names)[number];

/** contracts/interfaces/IProductRegistry.sol `AgreementKind`. */
export const AgreementKind = { None: 0, Quality: 1, Storage: 2, Transport: 3, Sales: 4, Testing: 5 } as const;
export const AGREEMENT_KINDS = ledgerEnum(
  ["NONE", "QUALITY", "STORAGE", "TRANSPORT", "SALES", "TESTING"],
  ["no kind", "quality", "storage", "transport", "sales", "outsourced testing"],
);
export type AgreementKindName = (typeof AGREEMENT_KINDS.names)[number];

/** contracts/interfaces/IProductRegistry.sol `ReleaseTester`: who performs release testing under a quality agreement. */
export const ReleaseTester = { None: 0, Cmo: 1, Mah: 2, ContractLaboratory: 3 } as const;
export const RELEASE_TESTERS = ledgerEnum(["NONE", "CMO", "MAH", "CONTRACT_LABORATORY"], ["nobody", "the CMO", "the MAH", "a contract laboratory"]);
export type ReleaseTesterName = (typeof RELEASE_TESTERS.names)[number];

/**
 * contracts/interfaces/IQualityDuties.sol `PersonRole`: a named responsible person of a product; the QP signs market
 * release. ORGANIZATION is never appointed: a market release states it when the MAH's own key signs, no person named.
 */
export const PersonRole = { None: 0, QualifiedPerson: 1, QualityHead: 2, ProductionHead: 3, PharmacovigilanceHead: 4, Organization: 5 } as const;
export const PERSON_ROLES = ledgerEnum(
  ["NONE", "QUALIFIED_PERSON", "QUALITY_HEAD", "PRODUCTION_HEAD", "PHARMACOVIGILANCE_HEAD", "ORGANIZATION"],
  ["no role", "quality authorized person", "head of quality", "head of production", "head of pharmacovigilance", "the organization itself"],
);
export type PersonRoleName = (typeof PERSON_ROLES.names)[number];

/** contracts/interfaces/IQualityDuties.sol `RiskClass`: STERILE, TCM_INJECTION and VACCINE need sterile records before factory release. */
export const RiskClass = { None: 0, Biologic: 1, Sterile: 2, TcmInjection: 3, Vaccine: 4, Other: 5 } as const;
export const RISK_CLASSES = ledgerEnum(
  ["NONE", "BIOLOGIC", "STERILE", "TCM_INJECTION", "VACCINE", "OTHER"],
  ["not classified", "biologic", "sterile", "traditional Chinese medicine injection", "vaccine", "other"],
);
export type RiskClassName = (typeof RISK_CLASSES.names)[number];
/** The risk classes whose batches need environmental-monitoring and cleaning records (QualityDuties.recordBatchDuties). */
export const STERILE_RISK_CLASSES: readonly RiskClassName[] = ["STERILE", "TCM_INJECTION", "VACCINE"];

/** contracts/interfaces/IQualityDuties.sol `RiskLevel`: a quarterly quality review's risk assessment. */
export const RiskLevel = { None: 0, Low: 1, Medium: 2, High: 3 } as const;
export const RISK_LEVELS = ledgerEnum(["NONE", "LOW", "MEDIUM", "HIGH"], ["not assessed", "low", "medium", "high"]);
export type RiskLevelName = (typeof RISK_LEVELS.names)[number];

/** contracts/interfaces/IQualityDuties.sol `NoticeKind`: what a notice between a quality agreement's parties is about. */
export const NoticeKind = { None: 0, ChangeControl: 1, Deviation: 2, Complaint: 3, AuditFinding: 4 } as const;
export const NOTICE_KINDS = ledgerEnum(
  ["NONE", "CHANGE_CONTROL", "DEVIATION", "COMPLAINT", "AUDIT_FINDING"],
  ["no kind", "change control", "deviation", "complaint", "audit finding"],
);
export type NoticeKindName = (typeof NOTICE_KINDS.names)[number];

/** The channels a quality agreement's parties may agree for notices: bit `1 << n` of CommunicationTerms.channels. */
export const NOTICE_CHANNELS = ledgerEnum(["NONE", "EMAIL", "PHONE", "PORTAL", "MEETING"], ["no channel", "email", "phone", "portal", "meeting"]);
export type NoticeChannelName = (typeof NOTICE_CHANNELS.names)[number];

/** Chinese words for the quality duties' enums, for the bilingual pages (index = the chain's number). */
export const QUALITY_WORDS_ZH = {
  personRoles: ["无", "质量受权人", "质量负责人", "生产负责人", "药物警戒负责人"],
  riskClasses: ["未分类", "生物制品", "无菌药品", "中药注射剂", "疫苗", "其他"],
  riskLevels: ["未评估", "低", "中", "高"],
  noticeKinds: ["无", "变更控制", "偏差", "投诉", "审计发现"],
  noticeChannels: ["无", "电子邮件", "电话", "门户系统", "会议"],
} as const;

/** contracts/interfaces/IBatchLedger.sol `BatchState`. */
export const BatchState = { None: 0, Manufactured: 1, FactoryReleased: 2, MarketReleased: 3, Rejected: 4 } as const;
export const BATCH_STATES = ledgerEnum(
  ["NONE", "MANUFACTURED", "FACTORY_RELEASED", "MARKET_RELEASED", "REJECTED"],
  [
    "not recorded",
    "manufactured (not yet released)",
    "released from the factory",
    "released to the market",
    "rejected by its MAH (market release refused, to be destroyed)",
  ],
);
export type BatchStateName = (typeof BATCH_STATES.names)[number];

/** contracts/interfaces/IBatchLedger.sol `RecallStatus`; a batch that was never recalled is NONE. */
export const RecallStatus = { None: 0, Open: 1, Closed: 2 } as const;
export const RECALL_STATUSES = ledgerEnum(["NONE", "OPEN", "CLOSED"], ["not recalled", "open", "closed"]);
export type RecallStatusName = (typeof RECALL_STATUSES.names)[number];

/** contracts/interfaces/IBatchLedger.sol `RecallLevel`: I is the most severe (NMPA's recall rules). */
export const RecallLevel = { None: 0, I: 1, II: 2, III: 3 } as const;
export const RECALL_LEVELS = ledgerEnum(["NONE", "I", "II", "III"], ["no level", "level I", "level II", "level III"]);
export type RecallLevelName = (typeof RECALL_LEVELS.names)[number];
/** The level of a started recall (the contract refuses a recall without one). */
export type StartedRecallLevel = Exclude<RecallLevelName, "NONE">;
/** The levels a recall can have, most severe first. */
export const STARTED_RECALL_LEVELS = RECALL_LEVELS.names.slice(1) as readonly StartedRecallLevel[];

/** contracts/interfaces/IBatchLedger.sol `DeviationKind`. */
export const DeviationKind = { None: 0, Deviation: 1, OutOfSpecification: 2, OutOfTrend: 3 } as const;
export const DEVIATION_KINDS = ledgerEnum(
  ["NONE", "DEVIATION", "OOS", "OOT"],
  ["no kind", "deviation", "out-of-specification result", "out-of-trend result"],
);
export type DeviationKindName = (typeof DEVIATION_KINDS.names)[number];

/** contracts/interfaces/IBatchLedger.sol `DeviationStatus`. */
export const DEVIATION_STATUSES = ledgerEnum(["NONE", "OPEN", "CLOSED"], ["not reported", "open", "closed"]);
export type DeviationStatusName = (typeof DEVIATION_STATUSES.names)[number];

// ----- quality: deviations with substance and their CAPA -----

/** contracts/interfaces/IBatchLedger.sol `DeviationSeverity`: a major or critical deviation is closed only by the batch's MAH. */
export const DeviationSeverity = { None: 0, Minor: 1, Major: 2, Critical: 3 } as const;
export const DEVIATION_SEVERITIES = ledgerEnum(
  ["NONE", "MINOR", "MAJOR", "CRITICAL"],
  ["no severity", "minor", "major", "critical"],
  ["未分级", "微小", "重大", "严重"],
);
export type DeviationSeverityName = (typeof DEVIATION_SEVERITIES.names)[number];

/** contracts/interfaces/IBatchLedger.sol `DeviationCategory`: where in the GMP system the deviation arose. */
export const DeviationCategory = {
  None: 0,
  Process: 1,
  Equipment: 2,
  Materials: 3,
  Environment: 4,
  Laboratory: 5,
  Documentation: 6,
  Personnel: 7,
  PackagingLabelling: 8,
  StorageTransport: 9,
  Other: 10,
} as const;
export const DEVIATION_CATEGORIES = ledgerEnum(
  [
    "NONE",
    "PROCESS",
    "EQUIPMENT",
    "MATERIALS",
    "ENVIRONMENT",
    "LABORATORY",
    "DOCUMENTATION",
    "PERSONNEL",
    "PACKAGING_LABELLING",
    "STORAGE_TRANSPORT",
    "OTHER",
  ],
  [
    "no category",
    "manufacturing process",
    "equipment and facilities",
    "materials",
    "environment and cleanrooms",
    "laboratory (testing)",
    "documentation and records",
    "personnel",
    "packaging and labelling",
    "storage and transport",
    "other",
  ],
  ["未分类", "生产工艺", "设备设施", "物料", "环境与洁净区", "检验", "文件记录", "人员", "包装与标签", "储存与运输", "其他"],
);
export type DeviationCategoryName = (typeof DEVIATION_CATEGORIES.names)[number];

/** contracts/interfaces/IBatchLedger.sol `RootCause`: the investigation's finding, by the usual six causes (人机料法环测). */
export const RootCause = { None: 0, People: 1, Machine: 2, Material: 3, Method: 4, Environment: 5, Measurement: 6, NotDetermined: 7 } as const;
export const ROOT_CAUSES = ledgerEnum(
  ["NONE", "PEOPLE", "MACHINE", "MATERIAL", "METHOD", "ENVIRONMENT", "MEASUREMENT", "NOT_DETERMINED"],
  ["not stated", "people", "machine (equipment)", "material", "method (process or procedure)", "environment", "measurement", "not determined"],
  ["未说明", "人", "机（设备）", "料", "法（工艺或规程）", "环", "测", "未查明"],
);
export type RootCauseName = (typeof ROOT_CAUSES.names)[number];

/** contracts/interfaces/IBatchLedger.sol `BatchImpact`: what the closed deviation means for the batch. */
export const BatchImpact = { None: 0, NoImpact: 1, Reworked: 2, Rejected: 3, ReleasedWithJustification: 4 } as const;
export const BATCH_IMPACTS = ledgerEnum(
  ["NONE", "NO_IMPACT", "REWORKED", "REJECTED", "RELEASED_WITH_JUSTIFICATION"],
  [
    "not stated",
    "no impact on the batch",
    "the batch was reworked or reprocessed",
    "the batch was rejected",
    "released with a documented justification",
  ],
  ["未说明", "对批次无影响", "批次返工或重新加工", "批次不合格报废", "附书面理由放行"],
);
export type BatchImpactName = (typeof BATCH_IMPACTS.names)[number];

/**
 * A CAPA's state in the read model: open until its effectiveness check, then EFFECTIVE or INEFFECTIVE (a failed
 * check; a new CAPA is recorded for the same deviation). Overdue is a time condition, not a state.
 */
export const CAPA_STATUSES = ["OPEN", "EFFECTIVE", "INEFFECTIVE"] as const;
export type CapaStatusName = (typeof CAPA_STATUSES)[number];

/**
 * A batch's hold (quarantine short of a recall), as the read model keeps it: never held, on hold, released by its
 * MAH, or ended by escalation to a recall (the contract knows only whether it is held now).
 */
export const HOLD_STATUSES = ["NONE", "ON_HOLD", "RELEASED", "ESCALATED"] as const;
export type HoldStatusName = (typeof HOLD_STATUSES)[number];
/** Why a batch was held: a signed placement by its MAH or a regulator, or a deviation opened on it once on the market. */
export type HoldCauseName = "PLACED" | "DEVIATION";

/**
 * contracts/interfaces/IBatchLedger.sol `PackState`: one state per pack at a time, as in the EU medicines
 * verification system. ACTIVE is in the supply chain (an undone state).
 */
export const PackState = { Active: 0, Dispensed: 1, Destroyed: 2, Stolen: 3, Sample: 4, Exported: 5, Locked: 6 } as const;
export const PACK_STATES = ledgerEnum(
  ["ACTIVE", "DISPENSED", "DESTROYED", "STOLEN", "SAMPLE", "EXPORTED", "LOCKED"],
  ["active", "dispensed", "destroyed", "stolen", "taken as a sample", "exported", "locked as suspect"],
);
export type PackStateName = (typeof PACK_STATES.names)[number];
/**
 * How long a dispensing, sample or export may be undone by the organization that recorded it, unless the deployment
 * sets another (BatchLedger's constructor): 10 days, as the EU's Delegated Regulation 2016/161 (Art. 13) allows.
 */
export const DEFAULT_UNDO_WINDOW = 10 * 24 * 3600;

/** Where a shipment is: the read model's states (the contract knows in transit and received). */
export type ShipmentStatusName = "IN_TRANSIT" | "RECEIVED";

/** An early warning's life: open, resolved (its condition no longer holds) or retracted (a reorg removed its event). */
export const ALERT_STATUSES = ["open", "resolved", "retracted"] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];

/** How urgent an early warning is; a risk rating weighs open alerts by it. */
export const ALERT_SEVERITIES = ["low", "medium", "high"] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

/** contracts/interfaces/IAlertCases.sol `CaseStatus`: an alert case's signed status (NEW until its owner moves it). */
export const CaseStatus = { New: 0, UnderInvestigation: 1, Escalated: 2, Closed: 3 } as const;
export const CASE_STATUSES = ledgerEnum(["NEW", "UNDER_INVESTIGATION", "ESCALATED", "CLOSED"], ["new", "under investigation", "escalated", "closed"]);
export type CaseStatusName = (typeof CASE_STATUSES.names)[number];

/** contracts/interfaces/IAlertCases.sol `SuspectOutcome`: how a regulator ends a suspect-product report. */
export const SuspectOutcome = { None: 0, Cleared: 1, Illegitimate: 2 } as const;
export const SUSPECT_OUTCOMES = ledgerEnum(["NONE", "CLEARED", "ILLEGITIMATE"], ["open", "cleared", "confirmed illegitimate"]);
export type SuspectOutcomeName = (typeof SUSPECT_OUTCOMES.names)[number];
/**
 * contracts/interfaces/IProductRegistry.sol `CrossProvinceApproval`: a quality agreement with a CMO of another
 * province takes effect once the CMO's provincial regulator gave its opinion and the MAH's approved.
 */
export const AGREEMENT_APPROVALS = ledgerEnum(
  ["NOT_REQUIRED", "AWAITING_OPINION", "AWAITING_APPROVAL", "APPROVED"],
  [
    "needs no cross-province approval",
    "awaits the opinion of the CMO's provincial regulator",
    "awaits the approval of the MAH's provincial regulator",
    "approved by both provinces",
  ],
);
export type AgreementApprovalName = (typeof AGREEMENT_APPROVALS.names)[number];

/** contracts/interfaces/ISupervisionRecords.sol `InspectionScope`. */
export const InspectionScope = { None: 0, Routine: 1, ForCause: 2, Licensing: 3, GmpCompliance: 4, FollowUp: 5 } as const;
export const INSPECTION_SCOPES = ledgerEnum(
  ["NONE", "ROUTINE", "FOR_CAUSE", "LICENSING", "GMP_COMPLIANCE", "FOLLOW_UP"],
  ["no scope", "routine inspection", "for-cause inspection", "licensing inspection", "GMP compliance inspection", "follow-up inspection"],
);
export type InspectionScopeName = (typeof INSPECTION_SCOPES.names)[number];

/** contracts/interfaces/ISupervisionRecords.sol `InspectionGrade`. */
export const InspectionGrade = { None: 0, Compliant: 1, CompliantWithCorrections: 2, NonCompliant: 3 } as const;
export const INSPECTION_GRADES = ledgerEnum(
  ["NONE", "COMPLIANT", "COMPLIANT_WITH_CORRECTIONS", "NON_COMPLIANT"],
  ["no grade", "compliant", "compliant once corrected", "not compliant"],
);
export type InspectionGradeName = (typeof INSPECTION_GRADES.names)[number];
