// @ts-check
// A batch's provenance: what it is, where its quantity is, and every signed step from its agreement to its
// recall, each with the signing organization, time, transaction and whether the signature verifies. Also prints
// a pack's label.
import {
  api,
  ApiFailure,
  byId,
  expiryDate,
  facts,
  failureBox,
  formatTime,
  h,
  messageBox,
  onLanguageChange,
  organizationLink,
  pathId,
  reach,
  readAnswer,
  recallText,
  session,
  shortHash,
  startPage,
  t,
  verificationMark,
} from "./app.js";
import { showAnswer } from "./view.js";
import { field, keepingDrafts, signer, signingForm } from "./actions.js";
import { documentHash } from "./signing.js";
import { PERSON_ROLES } from "/assets/ledger.js";

const batchId = pathId(/^\/batches\/(0x[0-9a-fA-F]{64})$/)?.toLowerCase();
const labelCode = byId("label-code", HTMLInputElement);
const actions = byId("batch-actions", HTMLElement);
const signing = signer(byId("outcome", HTMLElement));
/** @type {any} the batch as last read, for the actions its reader may sign */
let shownBatch;
/** @type {any} the provenance shown: a redraw in another language shows its documents as last read */
let shownProvenance;
/**
 * The label shown, kept so a language switch can redraw it.
 * @type {{ kind: "failure", error: unknown } | { kind: "message", key: string, values: Record<string, unknown> } | { kind: "label", svg: string, text: string, answer: any } | undefined}
 */
let label;

startPage("title.batch");
showAnswer({ badAddress: !batchId, load: provenance, render: provenanceView });
onLanguageChange(drawLabel);
onLanguageChange(() => {
  signing.draw();
  keepingDrafts(actions, drawActions);
});
byId("label-form", HTMLFormElement).addEventListener("submit", (event) => {
  event.preventDefault();
  void renderLabel(labelCode.value.trim());
});

if (!batchId) byId("label-section", HTMLElement).hidden = true;
else {
  const code = new URLSearchParams(location.search).get("code");
  if (code) {
    labelCode.value = code;
    void renderLabel(code);
  }
}

/**
 * The batch and its signed steps, its deviations with their CAPA and the quality documents the caller reads;
 * `entries` and `deviations` are absent when the organization may read the batch but not its quality records.
 */
async function provenance() {
  const [answer, deviations, documents] = await Promise.all([
    readProvenance(),
    qualityRecords(),
    api(`/v1/batches/${batchId}/documents`).then((found) => found.items),
  ]);
  shownBatch = answer.batch;
  drawActions();
  shownProvenance = { ...answer, deviations, documents };
  return shownProvenance;
}

/** The batch's deviations with their CAPA, or undefined for an organization that is not its MAH, CMO or regulator. */
async function qualityRecords() {
  try {
    return (await api(`/v1/batches/${batchId}/deviations`)).items;
  } catch (error) {
    if (!(error instanceof ApiFailure && error.code === "DEVIATIONS_RESTRICTED")) throw error;
    return undefined;
  }
}

async function readProvenance() {
  const quality = await api(`/v1/batches/${batchId}/quality`).catch(() => undefined);
  try {
    return { ...(await wholeProvenance()), quality, product: await productQuality(quality) };
  } catch (error) {
    // A holder may read the batch but not its whole timeline: show what it may read, and why the rest is hidden.
    if (!(error instanceof ApiFailure && error.code === "PROVENANCE_RESTRICTED")) throw error;
    return { batch: await api(`/v1/batches/${batchId}`), entries: undefined, names: undefined, quality, product: undefined };
  }
}

/**
 * The product's quality duties (risk class, responsible persons, quarterly reviews), for those who may read them.
 * @param {any} quality the batch's quality records, or undefined when they could not be read
 */
async function productQuality(quality) {
  if (!quality) return undefined;
  const batch = await api(`/v1/batches/${batchId}`);
  return api(`/v1/products/${batch.product.id}/quality`).catch(() => undefined);
}

/** Every page of the batch's timeline, followed to its end, with the names of the parties its steps name. */
async function wholeProvenance() {
  const path = `/v1/batches/${batchId}/provenance`;
  let page = await api(path);
  const entries = [...page.entries];
  while (page.nextCursor !== null) {
    page = await api(`${path}?cursor=${encodeURIComponent(page.nextCursor)}`);
    entries.push(...page.entries);
  }
  return { batch: page.batch, entries, names: await partyNames(entries) };
}

/** The fields of a step that name an organization other than its signer. */
const PARTY_FIELDS = ["shipperId", "recipientId", "holderId", "dispenserId", "mahId"];

/**
 * Names of the organizations the steps name (a shipment's recipient …), read once each from their public pages.
 * @param {any[]} entries
 * @returns {Promise<Map<number, string>>}
 */
async function partyNames(entries) {
  const ids = new Set(entries.flatMap((entry) => PARTY_FIELDS.map((name) => Number(entry.details[name])).filter((id) => id > 0)));
  for (const entry of entries) if (entry.organization) ids.delete(entry.organization.id);
  const names = new Map(entries.filter((entry) => entry.organization).map((entry) => [entry.organization.id, entry.organization.name]));
  await Promise.all(
    [...ids].map(async (id) => {
      const organization = await api(`/v1/organizations/${id}`).catch(() => undefined);
      names.set(id, organization?.name ?? `#${id}`);
    }),
  );
  return names;
}

/**
 * What a step moved, in the page's language: who shipped how much to whom, what was received, dispensed,
 * destroyed, recalled and accounted for. Only regulators and the batch's MAH and CMO see the timeline.
 * @param {any} entry
 * @param {Map<number, string>} names
 */
function stepDetails(entry, names) {
  const d = entry.details;
  const name = (/** @type {unknown} */ id) => names.get(Number(id)) ?? `#${id}`;
  switch (entry.event) {
    case "BatchRecorded":
      return t("details.recorded", { quantity: d.quantity });
    case "BatchShipped":
      return t("details.shipped", { shipper: name(d.shipperId), recipient: name(d.recipientId), quantity: d.quantity });
    case "ShipmentReceived":
      return t(Number(d.receivedQuantity) < Number(d.shippedQuantity) ? "details.receivedShort" : "details.received", {
        recipient: name(d.recipientId),
        shipper: name(d.shipperId),
        received: d.receivedQuantity,
        shipped: d.shippedQuantity,
      });
    case "PacksDispensed":
      return t("details.dispensed", { count: Array.isArray(d.packs) ? d.packs.length : "?" });
    case "StockDestroyed":
      return t("details.destroyed", { holder: name(d.holderId), quantity: d.quantity });
    case "BatchMarketReleased":
      // who signed, as the attestation itself states it (a QP by name and role, or the MAH's own key)
      return d.signerName
        ? t("details.marketReleasedBy", { name: d.signerName, role: t(`personRole.${PERSON_ROLES.nameOf(Number(d.signerRole))}`) })
        : t("details.marketReleasedByOrganization", { mah: name(d.mahId) });
    case "RecallStarted":
      return t("details.recallStarted", { level: t(`recall.levelName.${["", "I", "II", "III"][Number(d.level)] ?? ""}`) });
    case "RecallAcknowledged":
      return t("details.acknowledged", {
        holder: name(d.holderId),
        quarantined: d.quarantinedQuantity,
        dispensed: d.dispensedQuantity,
        destroyed: d.destroyedQuantity,
        missing: d.missingQuantity,
      });
    default:
      return undefined;
  }
}

/**
 * @param {{ batch: any, entries: any[] | undefined, names?: Map<number, string>, deviations: any[] | undefined, documents: any[],
 *   quality?: any, product?: any }} provenance the API's answers
 */
function provenanceView({ batch, entries, names, deviations, documents, quality: duties, product }) {
  return [
    summary(batch),
    ...(duties ? [qualityDuties(duties, product)] : []),
    deviations ? quality(deviations) : h("p", { class: "alert alert--info" }, t("quality.restricted")),
    qualityDocuments(documents),
    entries ? timeline(batch, entries, names ?? new Map()) : h("p", { class: "alert alert--info" }, t("timeline.restricted")),
  ];
}

/** @param {any[]} deviations the batch's deviations, each with its CAPA */
function quality(deviations) {
  return h(
    "section",
    { "aria-labelledby": "quality-title" },
    h("h2", { id: "quality-title" }, t("quality.title")),
    deviations.length === 0
      ? h("p", {}, t("quality.none"))
      : h(
          "ol",
          { class: "timeline", id: "deviations" },
          deviations.map((d) =>
            h(
              "li",
              { "data-severity": d.severity, "data-status": d.status },
              h(
                "div",
                { class: "step" },
                `${t(`deviation.kind.${d.kind}`)} · ${t(`deviation.severity.${d.severity}`)} · ${t(`deviation.status.${d.status}`)}`,
              ),
              facts([
                ["quality.category", t(`category.${d.category}`)],
                ["quality.report", h("code", { title: d.reportHash }, shortHash(d.reportHash))],
                ["quality.openedBy", `${d.openedBy} · ${formatTime(d.openedAt)}`],
                ["quality.closedBy", d.closedBy === null ? undefined : `${d.closedBy} · ${formatTime(d.closedAt)}`],
                ["quality.rootCause", d.rootCause ? t(`rootCause.${d.rootCause}`) : undefined],
                ["quality.impact", d.batchImpact ? t(`impact.${d.batchImpact}`) : undefined],
              ]),
              d.capas.map((/** @type {any} */ c) =>
                h(
                  "div",
                  { class: "capa", "data-capa-status": c.status },
                  facts([
                    ["quality.capa", h("code", { title: c.capaHash }, shortHash(c.capaHash))],
                    ["quality.owner", String(c.ownerId)],
                    ["quality.due", formatTime(c.dueAt)],
                    [
                      "quality.capaState",
                      h(
                        "span",
                        { class: c.status === "INEFFECTIVE" || c.overdue ? "overdue" : undefined },
                        c.overdue ? t("quality.overdue") : t(`capa.${c.status}`),
                      ),
                    ],
                  ]),
                ),
              ),
            ),
          ),
        ),
  );
}

/** @param {any[]} documents the batch's quality documents the caller reads */
function qualityDocuments(documents) {
  return h(
    "section",
    { "aria-labelledby": "documents-title" },
    h("h2", { id: "documents-title" }, t("documents.title")),
    documentsOutcome,
    documents.length === 0
      ? h("p", {}, t("documents.none"))
      : h(
          "ul",
          { id: "documents" },
          documents.map((d) =>
            h(
              "li",
              { "data-hash": d.hash },
              h(
                "button",
                {
                  type: "button",
                  class: "link",
                  onclick: (/** @type {MouseEvent} */ event) => {
                    // A refusal or an unreachable API is shown beside the link, in the pages' usual words.
                    const button = /** @type {HTMLElement} */ (event.currentTarget);
                    download(d).catch((error) => button.after(failureBox(error)));
                  },
                },
                `${t("documents.download")} ${d.fileName}`,
              ),
              ` · ${t("documents.record")} ${t(`event.${d.record.event}`)} (${d.size} B)`,
              d.ownerId === session()?.organizationId ? readersView(d) : undefined,
            ),
          ),
        ),
    session() ? uploadForm() : undefined,
  );
}

/** Where the upload, grant and revoke answers show; kept across redraws so a language switch does not lose it. */
const documentsOutcome = h("div", { id: "documents-outcome", "aria-live": "polite" });

/**
 * Shows what a document action came to: its message, or the API's refusal in the pages' usual words.
 * @param {() => Promise<string>} action resolves to the message to show
 */
async function documentAction(action) {
  try {
    documentsOutcome.replaceChildren(h("p", { class: "alert alert--info" }, await action()));
  } catch (error) {
    documentsOutcome.replaceChildren(failureBox(error));
  }
}

/** Re-reads the batch's documents after a change, keeping the outcome shown. */
async function refreshDocuments() {
  const list = await api(`/v1/batches/${batchId}/documents`);
  if (shownProvenance) shownProvenance.documents = list.items;
  const section = byId("documents-title", HTMLElement).closest("section");
  section?.replaceWith(qualityDocuments(list.items));
}

/** The file upload: its bytes go to the API as they are read (application/octet-stream), not base64 in JSON. */
function uploadForm() {
  const file = h("input", { type: "file", id: "upload-file", name: "upload-file", required: true });
  return h(
    "form",
    {
      id: "upload",
      "aria-labelledby": "upload-title",
      onsubmit: (/** @type {SubmitEvent} */ event) => {
        event.preventDefault();
        const chosen = /** @type {HTMLInputElement} */ (file).files?.[0];
        if (!chosen) return void documentsOutcome.replaceChildren(h("p", { class: "alert" }, t("upload.chooseFile")));
        documentsOutcome.replaceChildren(h("p", { class: "progress" }, t("upload.sending")));
        void documentAction(async () => {
          const answer = await uploadDocument(chosen);
          await refreshDocuments();
          return t(answer.created ? "upload.done" : "upload.already", { name: chosen.name });
        });
      },
    },
    h("h3", { id: "upload-title" }, t("upload.title")),
    h("p", { class: "hint" }, t("upload.intro")),
    h("label", { for: "upload-file" }, t("upload.file")),
    file,
    h("button", { type: "submit" }, t("upload.submit")),
  );
}

/** @param {File} file */
async function uploadDocument(file) {
  const query = new URLSearchParams({ batchId: batchId ?? "", fileName: file.name, mediaType: file.type || "application/octet-stream" });
  /** @type {Record<string, string>} */
  const headers = { accept: "application/json", "content-type": "application/octet-stream" };
  const signedIn = session();
  if (signedIn) headers.authorization = `Bearer ${signedIn.token}`;
  return readAnswer(await reach(`/v1/documents?${query}`, { method: "POST", headers, body: file }));
}

/**
 * The document's readers, for its owner: revoke one, or grant another organization by its number.
 * @param {any} d the document's metadata
 */
function readersView(d) {
  const organization = h("input", { type: "number", min: "1", id: `grant-${d.hash}`, required: true });
  return h(
    "div",
    { class: "readers" },
    h("h3", {}, t("readers.title")),
    h(
      "ul",
      { class: "readers__list" },
      d.readers.map((/** @type {number} */ id) =>
        h(
          "li",
          { "data-reader": String(id) },
          h("a", { href: `/organizations/${id}` }, String(id)),
          id === d.ownerId
            ? undefined
            : h(
                "button",
                {
                  type: "button",
                  class: "link",
                  onclick: () =>
                    void documentAction(async () => {
                      await api(`/v1/documents/${d.hash}/readers/${id}`, { method: "DELETE" });
                      await refreshDocuments();
                      return t("readers.revoked", { id });
                    }),
                },
                t("readers.revoke", { id }),
              ),
        ),
      ),
    ),
    h(
      "form",
      {
        class: "readers__grant",
        onsubmit: (/** @type {SubmitEvent} */ event) => {
          event.preventDefault();
          const id = Number(/** @type {HTMLInputElement} */ (organization).value);
          void documentAction(async () => {
            await api(`/v1/documents/${d.hash}/readers`, { method: "POST", body: { organizationId: id } });
            await refreshDocuments();
            return t("readers.granted", { id });
          });
        },
      },
      h("label", { for: `grant-${d.hash}` }, t("readers.organization")),
      organization,
      h("button", { type: "submit" }, t("readers.grant")),
    ),
  );
}

/**
 * Downloads a document through the API (audited there) and saves it under its file name.
 * @param {any} document its metadata
 */
async function download(document) {
  const answer = await api(`/v1/documents/${document.hash}/content`);
  const bytes = Uint8Array.from(atob(answer.content), (ch) => ch.charCodeAt(0));
  save(new Blob([bytes], { type: document.mediaType }), document.fileName);
}

/**
 * Hands the bytes to the browser as a download under the given file name.
 * @param {Blob} blob
 * @param {string} fileName
 */
function save(blob, fileName) {
  const link = h("a", { href: URL.createObjectURL(blob), download: fileName });
  link.click();
  URL.revokeObjectURL(link.getAttribute("href") ?? "");
}

/**
 * The batch's whole history as a GS1 EPCIS 2.0 document, for a regulator's or partner's own systems. The API streams
 * it; a refusal or an unreachable API shows beside the button.
 * @param {any} batch the API's batch view
 */
function epcisExport(batch) {
  const outcome = h("div", { id: "epcis-outcome", "aria-live": "polite" });
  return h(
    "div",
    { id: "epcis" },
    h(
      "button",
      {
        type: "button",
        id: "epcis-export",
        "aria-describedby": "epcis-hint",
        onclick: () => {
          outcome.replaceChildren(h("p", { class: "progress" }, t("epcis.preparing")));
          downloadEpcis(batch)
            .then((fileName) => outcome.replaceChildren(h("p", { class: "alert alert--info" }, t("epcis.saved", { fileName }))))
            .catch((error) => outcome.replaceChildren(failureBox(error)));
        },
      },
      t("epcis.download"),
    ),
    h("p", { class: "hint", id: "epcis-hint" }, t("epcis.hint")),
    outcome,
  );
}

/**
 * Fetches the batch's EPCIS document with the session's token and saves it.
 * @param {any} batch the API's batch view
 * @returns {Promise<string>} the file name it was saved under
 */
async function downloadEpcis(batch) {
  /** @type {Record<string, string>} */
  const headers = { accept: "application/ld+json, application/json" };
  const signedIn = session();
  if (signedIn) headers.authorization = `Bearer ${signedIn.token}`;
  const response = await reach(`/v1/batches/${batch.id}/epcis`, { headers });
  if (!response.ok) await readAnswer(response);
  const fileName = `epcis-${String(batch.batchNumber).replace(/[^A-Za-z0-9._-]/g, "_")}.jsonld`;
  save(await response.blob(), fileName);
  return fileName;
}

/** @param {any} person a named responsible person */
function personText(person) {
  return `${person.name} · ${t(`personRole.${person.role}`)}${person.revoked ? ` · ${t("quality.revoked")}` : ""}`;
}

/**
 * What the MAH's quality duties show for this batch: its product's risk class, the sterile records and the contract
 * laboratory's certificate its factory release needed, who signed its market release, and the product's named
 * persons and quarterly reviews.
 * @param {any} quality the API's batch quality records
 * @param {any} product the API's product quality duties, when the caller may read them
 */
function qualityDuties(quality, product) {
  const certificate = quality.testCertificate;
  const released = quality.marketReleasedBy;
  return h(
    "section",
    { "aria-labelledby": "duties-title", id: "quality" },
    h("h2", { id: "duties-title" }, t("duties.title")),
    facts([
      ["quality.riskClass", t(`riskClass.${quality.riskClass ?? "NONE"}`)],
      [
        "quality.sterileRecords",
        quality.sterileRecords ? t("quality.referenced", { at: formatTime(quality.sterileRecords.referencedAt) }) : t("duties.none"),
      ],
      [
        "quality.certificate",
        certificate
          ? h(
              "span",
              { class: certificate.passed ? undefined : "overdue" },
              t(certificate.passed ? "quality.certificatePassed" : "quality.certificateFailed", { laboratory: certificate.laboratory.name }),
            )
          : t("duties.none"),
      ],
      [
        "quality.releasedBy",
        // the name and role the release attestation states, not the appointment as it may stand today
        released
          ? released.signerName
            ? personText({ name: released.signerName, role: released.signerRole, revoked: false })
            : h("code", { title: released.key }, shortHash(released.key))
          : t("quality.notReleased"),
      ],
      ["samples.title", retainedSamplesText(quality.retainedSamples)],
      ["quality.persons", product ? product.responsiblePersons.map(personText).join("; ") || t("duties.none") : undefined],
      [
        "quality.reviews",
        product
          ? product.qualityReviews.map((/** @type {any} */ r) => `${r.year} Q${r.quarter} · ${t(`riskLevel.${r.riskLevel}`)}`).join("; ") ||
            t("duties.none")
          : undefined,
      ],
    ]),
  );
}

/** @param {any} samples the batch's retained samples, or null */
function retainedSamplesText(samples) {
  if (!samples) return t("duties.none");
  const value = t("samples.value", { quantity: samples.quantity, location: samples.location, until: formatTime(samples.retainUntil) });
  const approval = samples.approvedAt === null ? t("samples.awaiting") : t("samples.approved", { at: formatTime(samples.approvedAt) });
  return `${value} · ${approval}`;
}

/** @param {any} batch the API's batch view */
function summary(batch) {
  const { accounts } = batch;
  return h(
    "section",
    { "aria-labelledby": "summary-title" },
    h("h2", { id: "summary-title" }, `${t("batch.summary")} ${batch.batchNumber}`),
    facts([
      ["field.product", `${batch.product.name} (${batch.product.code})`],
      ["field.approvalNumber", batch.product.approvalNumber],
      ["field.mah", organizationLink(batch.mah)],
      ["field.cmo", organizationLink(batch.cmo)],
      ["field.quantity", String(batch.quantity)],
      ["field.manufacturedAt", formatTime(batch.manufacturedAt)],
      ["field.expiry", expiryDate(batch.expiresAt)],
      ["field.state", t(`state.${batch.state}`)],
      ["field.openDeviations", String(batch.openDeviations)],
      ["field.recall", batch.recall ? h("a", { href: `/recalls/${batch.id}` }, recallText(batch.recall)) : t("recall.none")],
      ["field.hold", h("span", { id: "hold", class: batch.hold === "ON_HOLD" ? "overdue" : undefined }, t(`hold.${batch.hold}`))],
    ]),
    ["MAH", "CMO", "REGULATOR"].includes(session()?.role ?? "")
      ? h(
          "p",
          {},
          h("a", { href: `/batches/${batch.id}/release`, id: "release-review" }, t("batch.releaseReview")),
          " · ",
          h("a", { href: `/products/${batch.product.id}/quality`, id: "product-quality" }, t("product.qualityLink")),
          " · ",
          h("a", { href: `/agreements/${batch.agreementId}/communications`, id: "communications" }, t("title.communications")),
        )
      : undefined,
    h("h3", {}, t("batch.accounts")),
    facts(
      ["held", "inTransit", "dispensed", "destroyed", "stolen", "sampled", "exported", "missing"].map((name) => [
        `field.${name}`,
        String(accounts[name]),
      ]),
    ),
  );
}

/**
 * @param {any} batch the API's batch view
 * @param {any[]} entries its signed steps
 * @param {Map<number, string>} names the organizations the steps name
 */
function timeline(batch, entries, names) {
  return h(
    "section",
    { "aria-labelledby": "timeline-title" },
    h("h2", { id: "timeline-title" }, t("timeline.title")),
    // Whoever reads the whole timeline may take it away as EPCIS: the API reads the export as it reads the provenance.
    epcisExport(batch),
    h(
      "ol",
      { class: "timeline", id: "timeline" },
      entries.map((entry) =>
        h(
          "li",
          { "data-event": entry.event },
          h("div", { class: "step" }, t(`event.${entry.event}`)),
          stepDetails(entry, names) ? h("p", { class: "step__details" }, stepDetails(entry, names)) : undefined,
          facts([
            ["timeline.signedBy", organizationLink(entry.organization)],
            ["timeline.tx", h("code", { title: entry.txHash }, shortHash(entry.txHash))],
          ]),
          h("p", {}, h("time", {}, formatTime(entry.at)), " · ", verificationMark(entry)),
          entry.event.startsWith("Recall") ? h("a", { href: `/recalls/${batch.id}` }, t("timeline.openRecall")) : undefined,
        ),
      ),
    ),
  );
}

// ---- what a regulator or the batch's MAH may sign here: a recall ----

function drawActions() {
  const signedIn = session();
  const mayRecall = shownBatch && !shownBatch.recall && (signedIn?.role === "REGULATOR" || signedIn?.organizationId === shownBatch.mah.id);
  actions.replaceChildren(...(mayRecall ? [recallForm()] : []));
}

function recallForm() {
  return signingForm({
    id: "order-recall",
    title: t("recall.order"),
    intro: t("recall.orderIntro"),
    fields: [
      field({
        id: "recall-level",
        label: t("recall.level"),
        options: ["I", "II", "III"].map((level, index) => [String(index + 1), t(`recall.levelName.${level}`)]),
      }),
      field({ id: "recall-reason", label: t("recall.reason"), hint: t("document.hint") }),
    ],
    action: t("recall.orderSubmit"),
    submit: async (values) => {
      const result = await signing.sign(
        "RecallStart",
        { batchId, level: Number(values["recall-level"]), reasonHash: documentHash(values["recall-reason"] ?? "") },
        "recall.ordered",
      );
      // The recall is on the ledger: its reconciliation is where holders' acknowledgements will show.
      if (result) location.assign(`/recalls/${batchId}`);
    },
  });
}

// ---- labels: a pack of this batch as a printable GS1 DataMatrix ----

/**
 * Checks with a scan that the code is one of this batch's packs, then fetches its symbol.
 * @param {string} code
 */
async function renderLabel(code) {
  if (!code) return labelCode.focus();
  try {
    const answer = await api("/v1/scans", { method: "POST", body: { code } });
    if (answer.batch?.id !== batchId) {
      label = { kind: "message", key: answer.batch ? "label.notThisBatch" : "label.unknown", values: { batch: answer.batch?.batchNumber } };
      return drawLabel();
    }
    const response = await reach(`/labels/datamatrix.svg?code=${encodeURIComponent(code)}`);
    if (!response.ok) await readAnswer(response);
    label = { kind: "label", svg: await response.text(), text: decodeURIComponent(response.headers.get("x-label-text") ?? ""), answer };
  } catch (error) {
    label = { kind: "failure", error };
  }
  drawLabel();
}

function drawLabel() {
  const output = byId("label-output", HTMLElement);
  if (!label) return;
  if (label.kind === "failure") return output.replaceChildren(failureBox(label.error));
  if (label.kind === "message") return output.replaceChildren(messageBox(label.key, label.values));
  const symbol = new DOMParser().parseFromString(label.svg, "image/svg+xml").documentElement;
  symbol.setAttribute("role", "img");
  symbol.setAttribute("aria-label", t("label.alt", { code: label.text }));
  const { product, batch } = label.answer;
  output.replaceChildren(
    h(
      "figure",
      { class: "label", id: "label" },
      symbol,
      h(
        "figcaption",
        {},
        h("p", { class: "label__text" }, label.text),
        h("p", { class: "label__text" }, `${product.name} · ${batch.batchNumber} · ${expiryDate(batch.expiresAt)}`),
      ),
    ),
    h("div", { class: "row" }, h("button", { type: "button", id: "label-print", onclick: () => window.print() }, t("label.print"))),
  );
}
