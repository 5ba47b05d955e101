// @ts-check
// A CMO records a batch with its codes file: the file is streamed to the API, which answers the root its codes hash
// to; the CMO signs the batch record committing that root; then the file is streamed again to register the codes
// against the root now on the ledger. Each upload shows its progress; nothing is kept unless the batch is recorded.
import { api, byId, formatTime, h, onLanguageChange, readAnswer, session, showFailure, signInRequired, startPage, t } from "./app.js";
import { field, keepingDrafts, signer, signingForm } from "./actions.js";
import { documentHash } from "./signing.js";

const content = byId("content", HTMLElement);
const outcome = byId("outcome", HTMLElement);
const signing = signer(outcome);
/** The quality agreement of the CMO's latest batch: what it most likely records under again, chosen first. */
let lastAgreement = "";
/** @type {any[]} the quality agreements in force between this CMO and MAHs (the API's /v1/agreements/in-force) */
let agreements = [];
/** @type {{ stage: string, sent: number, total: number } | undefined} */
let upload;
/** @type {{ batchId: string, count: number } | undefined} */
let recorded;
/** @type {File | undefined} the codes file chosen, kept across a redraw in another language */
let chosen;

startPage("title.record");
onLanguageChange(() => {
  signing.draw();
  keepingDrafts(content, draw);
});
void load();

async function load() {
  const signedIn = session();
  if (!signedIn) return content.replaceChildren(signInRequired());
  try {
    const [latest, inForce] = await Promise.all([api("/v1/batches?limit=1"), api("/v1/agreements/in-force")]);
    lastAgreement = latest.items[0]?.agreementId ?? "";
    agreements = inForce.items.filter((/** @type {any} */ agreement) => agreement.cmo.id === signedIn.organizationId);
  } catch (error) {
    return showFailure(content, error);
  }
  draw();
}

const CHINA_OFFSET = 8 * 3600;
/**
 * A date (yyyy-mm-dd) as the ledger reads it in China time: its first second, or with `end` its last (a batch's
 * expiry is valid to the end of the printed day, src/ledger/expiry.ts).
 * @param {string} date
 * @param {boolean} end
 */
function chinaDay(date, end) {
  const [year, month, day] = date.split("-").map(Number);
  return Date.UTC(year ?? 0, (month ?? 1) - 1, day ?? 1, end ? 23 : 0, end ? 59 : 0, end ? 59 : 0) / 1000 - CHINA_OFFSET;
}

function draw() {
  if (session()?.role !== "CMO") return content.replaceChildren(h("p", { class: "alert alert--info" }, t("record.cmoOnly")));
  if (agreements.length === 0) return content.replaceChildren(h("p", { class: "alert", id: "no-agreement" }, t("record.noAgreement")));
  // The latest batch's agreement first, if still in force; then as the API orders them (latest signed first).
  const ordered = [...agreements].sort((a, b) => Number(b.id === lastAgreement) - Number(a.id === lastAgreement));
  const form = signingForm({
    id: "record",
    title: t("record.form"),
    intro: t("record.intro"),
    fields: [
      field({
        id: "agreement",
        label: t("record.agreement"),
        hint: t("record.agreementHint"),
        options: ordered.map((agreement) => [
          agreement.id,
          t("record.agreementOption", {
            mah: agreement.mah.name,
            product: agreement.product ? `${agreement.product.name} (${agreement.product.productCode})` : "—",
            until: formatTime(agreement.validUntil),
          }),
        ]),
      }),
      field({ id: "batch-number", label: t("field.batch") }),
      field({ id: "manufactured", label: t("field.manufacturedAt"), type: "date" }),
      field({ id: "expires", label: t("field.expiry"), type: "date", hint: t("record.expiryHint") }),
      field({ id: "batch-record", label: t("record.batchRecord"), hint: t("document.hint") }),
      field({
        id: "codes-file",
        label: t("record.codesFile"),
        type: "file",
        hint: t("record.codesHint"),
        attributes: { accept: ".txt,.csv,text/plain" },
      }),
    ],
    action: t("record.submit"),
    submit: record,
  });
  content.replaceChildren(form, progressView(), recorded ? recordedView() : "");
  const input = byId("codes-file", HTMLInputElement);
  input.addEventListener("change", () => (chosen = input.files?.[0]));
  if (chosen) {
    const files = new DataTransfer();
    files.items.add(chosen);
    input.files = files.files;
  }
}

/** Redraws the upload's progress and the outcome below the form, leaving the form as it is. */
function drawProgress() {
  byId("upload", HTMLElement).replaceWith(progressView());
  document.getElementById("recorded")?.remove();
  if (recorded) content.append(recordedView());
}

function progressView() {
  const share = upload && upload.total > 0 ? Math.round((100 * upload.sent) / upload.total) : 0;
  return h(
    "div",
    { id: "upload", hidden: !upload },
    h("label", { for: "upload-progress" }, upload ? t(upload.stage) : ""),
    h("progress", { id: "upload-progress", max: 100, value: share }),
    h("p", { role: "status", id: "upload-share" }, upload ? t("record.sent", { share }) : ""),
  );
}

function recordedView() {
  return h(
    "p",
    { class: "alert alert--ok", id: "recorded" },
    t("record.done", { count: recorded?.count }),
    " ",
    h("a", { href: `/batches/${recorded?.batchId}/release` }, t("batch.releaseReview")),
  );
}

/**
 * Streams a file to the API as text/plain (the browser reads it from disk as it sends), reporting progress.
 * @param {string} path
 * @param {File} file
 * @param {string} stage the string naming this upload
 * @returns {Promise<any>} the API's answer
 */
function streamFile(path, file, stage) {
  upload = { stage, sent: 0, total: file.size };
  drawProgress();
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", path);
    request.setRequestHeader("content-type", "text/plain; charset=utf-8");
    request.setRequestHeader("accept", "application/json");
    const token = session()?.token;
    if (token) request.setRequestHeader("authorization", `Bearer ${token}`);
    request.upload.addEventListener("progress", (event) => {
      upload = { stage, sent: event.loaded, total: event.total || file.size };
      const bar = document.getElementById("upload-progress");
      if (bar instanceof HTMLProgressElement) bar.value = Math.round((100 * upload.sent) / upload.total);
      const share = document.getElementById("upload-share");
      if (share) share.textContent = t("record.sent", { share: Math.round((100 * upload.sent) / upload.total) });
    });
    request.addEventListener("load", () => {
      upload = { stage, sent: file.size, total: file.size };
      resolve(readAnswer(new Response(request.responseText, { status: request.status })));
    });
    request.addEventListener("error", () => reject(new Error(t("error.unavailable"))));
    request.send(file);
  });
}

/** @param {Record<string, string>} values */
async function record(values) {
  const file = byId("codes-file", HTMLInputElement).files?.[0] ?? chosen;
  if (!file) return signing.refuse(new Error(t("record.noFile")));
  const expiresAt = chinaDay(values.expires ?? "", true);
  recorded = undefined;
  let codes;
  try {
    codes = await streamFile(`/v1/codes/root?expiresAt=${expiresAt}`, file, "record.hashing");
  } catch (error) {
    return signing.refuse(error);
  }
  const result = await signing.sign(
    "BatchRecord",
    {
      agreementId: values.agreement?.trim().toLowerCase(),
      batchNumber: values["batch-number"]?.trim(),
      quantity: codes.count,
      manufacturedAt: chinaDay(values.manufactured ?? "", false),
      expiresAt,
      batchRecordHash: documentHash(values["batch-record"] ?? ""),
      codesRoot: codes.root,
    },
    "record.signed",
    undefined,
    { count: codes.count },
  );
  const batchId = result?.established?.[0]?.batchId;
  if (!batchId) return;
  try {
    const registered = await streamFile(`/v1/batches/${batchId}/codes`, file, "record.registering");
    recorded = { batchId, count: registered.count };
  } catch (error) {
    return signing.refuse(error);
  }
  drawProgress();
}
