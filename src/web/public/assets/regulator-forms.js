// @ts-check
// The enterprise file's forms for regulators, each signed in the page with the regulator's key: record a licence's
// validity, record an inspection (site, scope, findings, grade, report), recognise another province's inspection,
// record a sampling result of one of the enterprise's batches, and give a cross-province agreement's opinion or
// approval. The ledger decides who may sign what (a licence by the enterprise's own province, an opinion by the
// CMO's …): a refusal comes back in its words.
import { h, shortHash, t } from "./app.js";
import { afterSigning, field, signingForm } from "./actions.js";
import { documentHash } from "./signing.js";
import { INSPECTION_GRADES, INSPECTION_SCOPES } from "/assets/ledger.js";

/** Unix seconds at the end of a date (YYYY-MM-DD) in China Standard Time, as licences and expiries are read. */
const endOfChinaDay = (/** @type {string} */ date) => Math.floor(Date.parse(`${date}T23:59:59+08:00`) / 1000);
/** Unix seconds at noon of a date in China Standard Time: when an inspection took place, to the day. */
const chinaNoon = (/** @type {string} */ date) => Math.floor(Date.parse(`${date}T12:00:00+08:00`) / 1000);

/**
 * The forms a regulator signs about the enterprise whose file `file` is.
 * @param {any} file the answer of GET /v1/organizations/{id}/file
 * @param {{ organizationId: number }} me the signed-in regulator
 * @param {ReturnType<typeof import("./actions.js").signer>} signing
 * @param {() => Promise<void>} reload
 * @returns {Node[]}
 */
export function regulatorForms(file, me, signing, reload) {
  const organizationId = file.organization.id;
  const enumOptions = (/** @type {readonly string[]} */ names, /** @type {string} */ prefix) =>
    /** @type {Array<[string, string]>} */ (names.flatMap((name, value) => (name === "NONE" ? [] : [[String(value), t(`${prefix}.${name}`)]])));
  const count = (/** @type {string} */ id, /** @type {string} */ label) =>
    field({ id, label, type: "number", attributes: { min: "0", max: "65535", step: "1", value: "0", inputmode: "numeric" } });
  const signed = async (/** @type {string} */ type, /** @type {Record<string, unknown>} */ fields, /** @type {string} */ doneKey) =>
    afterSigning(await signing.sign(type, fields, doneKey), reload);

  const recognisable = file.inspections.filter(
    (/** @type {any} */ i) =>
      i.regulator.id !== me.organizationId && !i.recognisedBy.some((/** @type {any} */ r) => r.regulatorId === me.organizationId),
  );
  const awaiting = file.agreements.filter(
    (/** @type {any} */ a) => !a.revoked && (a.approval === "AWAITING_OPINION" || a.approval === "AWAITING_APPROVAL"),
  );
  return [
    signingForm({
      id: "licence-form",
      title: t("regulate.licenceTitle"),
      intro: t("regulate.licenceIntro"),
      fields: [
        field({ id: "licence-document", label: t("regulate.licenceDocument"), hint: t("regulate.hashedHint") }),
        field({ id: "licence-until", label: t("regulate.licenceUntil"), type: "date" }),
      ],
      action: t("regulate.licenceSign"),
      submit: (values) =>
        signed(
          "LicenceRecord",
          { organizationId, licenceHash: documentHash(values["licence-document"] ?? ""), validUntil: endOfChinaDay(values["licence-until"] ?? "") },
          "regulate.licenceDone",
        ),
    }),
    signingForm({
      id: "inspection-form",
      title: t("regulate.inspectionTitle"),
      fields: [
        field({ id: "inspection-site", label: t("enterprise.site") }),
        field({ id: "inspection-scope", label: t("enterprise.scope"), options: enumOptions(INSPECTION_SCOPES.names, "inspection.scope") }),
        count("inspection-critical", t("regulate.critical")),
        count("inspection-major", t("regulate.major")),
        count("inspection-minor", t("regulate.minor")),
        field({ id: "inspection-grade", label: t("enterprise.grade"), options: enumOptions(INSPECTION_GRADES.names, "inspection.grade") }),
        field({ id: "inspection-date", label: t("enterprise.inspectedAt"), type: "date" }),
        field({ id: "inspection-report", label: t("regulate.report"), hint: t("regulate.hashedHint") }),
      ],
      action: t("regulate.inspectionSign"),
      submit: (values) =>
        signed(
          "Inspection",
          {
            organizationId,
            site: (values["inspection-site"] ?? "").trim(),
            scope: Number(values["inspection-scope"]),
            criticalFindings: Number(values["inspection-critical"]),
            majorFindings: Number(values["inspection-major"]),
            minorFindings: Number(values["inspection-minor"]),
            grade: Number(values["inspection-grade"]),
            inspectedAt: chinaNoon(values["inspection-date"] ?? ""),
            documentHash: documentHash(values["inspection-report"] ?? ""),
          },
          "regulate.inspectionDone",
        ),
    }),
    signingForm({
      id: "recognition-form",
      title: t("regulate.recognitionTitle"),
      intro: t("regulate.recognitionIntro"),
      fields: recognisable.length
        ? [
            field({
              id: "recognition-inspection",
              label: t("regulate.inspection"),
              options: recognisable.map((/** @type {any} */ i) => [
                i.id,
                `${t(`inspection.scope.${i.scope}`)} · ${i.site} · ${t("inspection.province", { province: i.province })} · ${shortHash(i.id)}`,
              ]),
            }),
          ]
        : [],
      action: t("regulate.recognitionSign"),
      disabled: recognisable.length === 0,
      disabledReason: recognisable.length === 0 ? t("regulate.nothingToRecognise") : undefined,
      submit: (values) => signed("InspectionRecognition", { inspectionId: values["recognition-inspection"] }, "regulate.recognitionDone"),
    }),
    signingForm({
      id: "sampling-form",
      title: t("regulate.samplingTitle"),
      fields: file.batches.length
        ? [
            field({
              id: "sampling-batch",
              label: t("field.batch"),
              options: file.batches.map((/** @type {any} */ b) => [b.id, b.batchNumber]),
            }),
            field({ id: "sampling-test", label: t("enterprise.test") }),
            field({
              id: "sampling-result",
              label: t("enterprise.result"),
              options: [
                ["passed", t("sampling.passed")],
                ["failed", t("sampling.failed")],
              ],
            }),
            field({ id: "sampling-report", label: t("regulate.report"), hint: t("regulate.hashedHint") }),
          ]
        : [],
      action: t("regulate.samplingSign"),
      disabled: file.batches.length === 0,
      disabledReason: file.batches.length === 0 ? t("regulate.noBatches") : undefined,
      submit: (values) =>
        signed(
          "SamplingResult",
          {
            batchId: values["sampling-batch"],
            sampledAtId: organizationId,
            test: (values["sampling-test"] ?? "").trim(),
            passed: values["sampling-result"] === "passed",
            reportHash: documentHash(values["sampling-report"] ?? ""),
          },
          "regulate.samplingDone",
        ),
    }),
    signingForm({
      id: "review-form",
      title: t("regulate.reviewTitle"),
      intro: t("regulate.reviewIntro"),
      fields: awaiting.length
        ? [
            field({
              id: "review-agreement",
              label: t("enterprise.agreement"),
              options: awaiting.map((/** @type {any} */ a) => [
                a.id,
                `${shortHash(a.id)} · ${a.mah.name} / ${a.counterparty.name} · ${t(`agreement.approval.${a.approval}`)}`,
              ]),
            }),
            field({ id: "review-document", label: t("regulate.reviewDocument"), hint: t("regulate.hashedHint") }),
          ]
        : [],
      action: t("regulate.reviewSign"),
      disabled: awaiting.length === 0,
      disabledReason: awaiting.length === 0 ? t("regulate.nothingToReview") : undefined,
      submit: (values) => {
        const agreement = awaiting.find((/** @type {any} */ a) => a.id === values["review-agreement"]);
        // The agreement's stage says what is signed: the CMO province's opinion first, then the MAH province's approval.
        const type = agreement?.approval === "AWAITING_OPINION" ? "AgreementOpinion" : "AgreementApproval";
        return signed(
          type,
          { agreementId: values["review-agreement"], documentHash: documentHash(values["review-document"] ?? "") },
          `regulate.${type}Done`,
        );
      },
    }),
  ].map((form) => h("div", { class: "regulator-form" }, form));
}
