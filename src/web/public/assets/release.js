// @ts-check
// A batch's release review: every gate before market release, green or not, and the signings of its MAH and CMO:
// the market release (enabled only when every gate is green), the factory release, deviations opened and closed.
// Each signing goes through the relay and the review is read again, so the page shows the ledger as it now is.
import {
  api,
  byId,
  expiryDate,
  formatTime,
  h,
  onLanguageChange,
  pathId,
  session,
  shortHash,
  showFailure,
  signInRequired,
  startPage,
  t,
} from "./app.js";
import { checkItem, field, keepingDrafts, signer, signingForm } from "./actions.js";
import { documentHash } from "./signing.js";
import { releaseSigner } from "/assets/ledger.js";

const batchId = pathId(/^\/batches\/(0x[0-9a-fA-F]{64})\/release$/)?.toLowerCase();
const content = byId("content", HTMLElement);
const outcome = byId("outcome", HTMLElement);
const signing = signer(outcome);
/** @type {any} the API's release review */
let review;

startPage("title.release");
onLanguageChange(() => {
  signing.draw();
  keepingDrafts(content, draw);
});
void load();

async function load() {
  if (!batchId) return showFailure(content, new Error(t("error.badAddress", { path: location.pathname })));
  if (!session()) return content.replaceChildren(signInRequired());
  try {
    review = await api(`/v1/batches/${batchId}/release-review`);
  } catch (error) {
    return showFailure(content, error);
  }
  draw();
}

function draw() {
  if (!review) return;
  const { batch } = review;
  const role = session()?.role;
  const isMah = role === "MAH" && session()?.organizationId === batch.mah.id;
  const isCmo = role === "CMO" && session()?.organizationId === batch.cmo.id;
  content.replaceChildren(
    ...[
      h(
        "p",
        {},
        `${batch.product.name} · ${t("field.batch")} ${batch.batchNumber} · ${t(`state.${batch.state}`)} · `,
        h("a", { href: `/batches/${batch.id}` }, t("recall.openBatch")),
      ),
      h(
        "section",
        { "aria-labelledby": "gates-title" },
        h("h2", { id: "gates-title" }, t("release.gates")),
        h("ul", { id: "gates", class: "gates" }, gateItems()),
      ),
      deviationsSection(),
      batch.releaseRefusal ? refusedNotice() : undefined,
      isMah && !batch.releaseRefusal ? marketReleaseForm() : undefined,
      isMah && (batch.state === "MANUFACTURED" || batch.state === "FACTORY_RELEASED") ? refusalForm() : undefined,
      isCmo && batch.state === "MANUFACTURED" ? factoryReleaseForm() : undefined,
      isMah || isCmo ? openDeviationForm() : undefined,
      (isMah || isCmo) && openDeviations().length > 0 ? closeDeviationForm() : undefined,
    ].filter((part) => part !== undefined),
  );
}

const openDeviations = () => review.deviations.filter((/** @type {any} */ deviation) => deviation.status === "OPEN");

function gateItems() {
  // Judged by the API's clock (review.now), not this browser's.
  const { batch, agreement, factoryRelease, deviations, qualityDuties: duties } = review;
  /** @type {Record<string, (passed: boolean) => string>} */
  const say = {
    factoryRelease: (passed) =>
      passed
        ? t("gate.factoryRelease.ok", { certificate: shortHash(factoryRelease.certificateHash), at: formatTime(factoryRelease.at) })
        : t("gate.factoryRelease.bad"),
    deviations: (passed) =>
      passed ? t("gate.deviations.ok", { count: deviations.length }) : t("gate.deviations.bad", { count: openDeviations().length }),
    agreement: (passed) => {
      if (!agreement) return t("gate.agreement.none");
      if (passed) return t("gate.agreement.ok", { until: formatTime(agreement.validUntil) });
      if (agreement.revoked) return t("gate.agreement.revoked");
      return t("gate.agreement.notInForce", { from: formatTime(agreement.validFrom), until: formatTime(agreement.validUntil) });
    },
    hold: (passed) => (passed ? t("gate.hold.ok") : t("gate.hold.bad")),
    recall: (passed) => (passed ? t("gate.recall.ok") : t("gate.recall.bad")),
    expiry: (passed) => t(passed ? "gate.expiry.ok" : "gate.expiry.bad", { date: expiryDate(batch.expiresAt) }),
    sterileRecords: (passed) =>
      t(!duties.sterileRecordsRequired ? "gate.sterileRecords.none" : passed ? "gate.sterileRecords.ok" : "gate.sterileRecords.bad"),
    testCertificate: (passed) => {
      if (!duties.certificateRequired) return t("gate.testCertificate.none");
      if (passed) return t("gate.testCertificate.ok");
      return t(duties.certificatePassed === false ? "gate.testCertificate.failed" : "gate.testCertificate.missing");
    },
    retainedSamples: (passed) =>
      t(!duties.sterileRecordsRequired ? "gate.retainedSamples.none" : passed ? "gate.retainedSamples.ok" : "gate.retainedSamples.bad"),
    licence: (passed) => t(passed ? "gate.licence.ok" : "gate.licence.bad"),
    qualifiedPerson: (passed) => {
      if (!duties.qualifiedPersonSigns) return t("gate.qualifiedPerson.none");
      const names = duties.qualifiedPersons.map((/** @type {{ name: string }} */ p) => p.name).join(", ") || "—";
      return t(passed ? "gate.qualifiedPerson.ok" : "gate.qualifiedPerson.bad", { names });
    },
  };
  return review.gates.map((/** @type {{ gate: string, passed: boolean }} */ { gate, passed }) =>
    checkItem(passed, [h("strong", {}, t(`gate.${gate}`)), " ", say[gate]?.(passed) ?? ""], { "data-gate": gate, id: `gate-${gate}` }),
  );
}

function deviationsSection() {
  const rows = review.deviations.map((/** @type {any} */ deviation) =>
    h(
      "tr",
      { "data-status": deviation.status },
      h("th", { scope: "row" }, h("code", { title: deviation.reportHash }, shortHash(deviation.reportHash))),
      h("td", {}, t(`deviation.kind.${deviation.kind}`)),
      h("td", {}, t(`deviation.status.${deviation.status}`)),
      h("td", {}, t(`deviation.severity.${deviation.severity}`)),
      h("td", {}, formatTime(deviation.openedAt)),
      h("td", {}, formatTime(deviation.closedAt)),
    ),
  );
  return h(
    "section",
    { "aria-labelledby": "deviations-title" },
    h("h2", { id: "deviations-title" }, t("release.deviations")),
    rows.length === 0
      ? h("p", {}, t("release.noDeviations"))
      : h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { id: "deviations" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                ["deviation.report", "deviation.kind", "deviation.status", "deviation.severity", "deviation.openedAt", "deviation.closedAt"].map(
                  (key) => h("th", { scope: "col" }, t(key)),
                ),
              ),
            ),
            h("tbody", {}, rows),
          ),
        ),
  );
}

/** After a signing the ledger changed: read the review again. */
async function signed(/** @type {unknown} */ result) {
  if (result) await load();
}

function marketReleaseForm() {
  const { batch } = review;
  if (batch.state === "MARKET_RELEASED") {
    return h("p", { class: "alert alert--ok", id: "released" }, t("release.alreadyReleased", { at: formatTime(batch.marketReleasedAt) }));
  }
  // The signer's name and role go into the attestation, as QualityDuties has the signed-in key appointed.
  const signer = releaseSigner(review.qualityDuties, session()?.key ?? "");
  return signingForm({
    id: "market-release",
    title: t("release.market"),
    intro: `${t("release.marketIntro")} ${signer.signerName ? t("release.signerPerson", { name: signer.signerName }) : t("release.signerOrganization")}`,
    fields: [field({ id: "decision", label: t("release.decision"), hint: t("document.hint") })],
    action: t("release.marketSubmit"),
    disabled: !review.releasable,
    disabledReason: review.releasable ? undefined : t("release.notReady"),
    submit: async (values) =>
      signed(await signing.sign("MarketRelease", { batchId, decisionHash: documentHash(values.decision ?? ""), ...signer }, "release.marketDone")),
  });
}

function refusedNotice() {
  const { releaseRefusal } = review.batch;
  return h(
    "p",
    { class: "alert", id: "refused", role: "status" },
    t("release.refused", { at: formatTime(releaseRefusal.at), reason: shortHash(releaseRefusal.reasonHash) }),
  );
}

/** The recorded refusal: the batch is rejected and to be destroyed; nothing releases or ships it afterwards. */
function refusalForm() {
  return signingForm({
    id: "refuse-release",
    title: t("release.refuse"),
    intro: t("release.refuseIntro"),
    fields: [field({ id: "refusal-reason", label: t("release.refusalReason"), hint: t("document.hint") })],
    action: t("release.refuseSubmit"),
    submit: async (values) =>
      signed(await signing.sign("ReleaseRefusal", { batchId, reasonHash: documentHash(values["refusal-reason"] ?? "") }, "release.refuseDone")),
  });
}

function factoryReleaseForm() {
  return signingForm({
    id: "factory-release",
    title: t("release.factory"),
    fields: [field({ id: "certificate", label: t("release.certificate"), hint: t("document.hint") })],
    action: t("release.factorySubmit"),
    submit: async (values) =>
      signed(await signing.sign("FactoryRelease", { batchId, certificateHash: documentHash(values.certificate ?? "") }, "release.factoryDone")),
  });
}

const DEVIATION_KINDS = /** @type {const} */ ([
  ["1", "DEVIATION"],
  ["2", "OOS"],
  ["3", "OOT"],
]);

/** Each enum's names as the contracts number them (src/ledger/vocabulary.ts), first the one a form offers first. */
const SEVERITIES = ["MINOR", "MAJOR", "CRITICAL"];
const CATEGORIES = [
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
];
const ROOT_CAUSES = ["PEOPLE", "MACHINE", "MATERIAL", "METHOD", "ENVIRONMENT", "MEASUREMENT", "NOT_DETERMINED"];
const IMPACTS = ["NO_IMPACT", "REWORKED", "REJECTED", "RELEASED_WITH_JUSTIFICATION"];
/**
 * A select's options: the chain's number (index + 1, NONE being 0) and the words for each name.
 * @param {string[]} names
 * @param {string} prefix the i18n key before the name
 * @returns {[string, string][]}
 */
const numbered = (names, prefix) => names.map((name, i) => [String(i + 1), t(`${prefix}${name}`)]);

function openDeviationForm() {
  return signingForm({
    id: "open-deviation",
    title: t("deviation.open"),
    intro: t("deviation.openIntro"),
    fields: [
      field({
        id: "deviation-kind",
        label: t("deviation.kind"),
        options: DEVIATION_KINDS.map(([value, name]) => [value, t(`deviation.kind.${name}`)]),
      }),
      field({ id: "deviation-severity", label: t("deviation.severity"), options: numbered(SEVERITIES, "deviation.severity.") }),
      field({ id: "deviation-category", label: t("quality.category"), options: numbered(CATEGORIES, "category.") }),
      field({ id: "deviation-report", label: t("deviation.reportText"), hint: t("document.hint") }),
    ],
    action: t("deviation.openSubmit"),
    submit: async (values) =>
      signed(
        await signing.sign(
          "DeviationReport",
          {
            batchId,
            kind: Number(values["deviation-kind"]),
            severity: Number(values["deviation-severity"]),
            category: Number(values["deviation-category"]),
            reportHash: documentHash(values["deviation-report"] ?? ""),
          },
          "deviation.openDone",
        ),
      ),
  });
}

function closeDeviationForm() {
  return signingForm({
    id: "close-deviation",
    title: t("deviation.close"),
    fields: [
      field({
        id: "closing-report",
        label: t("deviation.which"),
        options: openDeviations().map((/** @type {any} */ deviation) => [
          deviation.reportHash,
          `${t(`deviation.kind.${deviation.kind}`)} ${shortHash(deviation.reportHash)} · ${formatTime(deviation.openedAt)}`,
        ]),
      }),
      field({ id: "root-cause", label: t("quality.rootCause"), options: numbered(ROOT_CAUSES, "rootCause.") }),
      field({ id: "batch-impact", label: t("quality.impact"), options: numbered(IMPACTS, "impact.") }),
      field({ id: "closure", label: t("deviation.closure"), hint: t("document.hint") }),
    ],
    action: t("deviation.closeSubmit"),
    submit: async (values) =>
      signed(
        await signing.sign(
          "DeviationClosure",
          {
            batchId,
            reportHash: values["closing-report"],
            rootCause: Number(values["root-cause"]),
            batchImpact: Number(values["batch-impact"]),
            closureHash: documentHash(values.closure ?? ""),
          },
          "deviation.closeDone",
        ),
      ),
  });
}
