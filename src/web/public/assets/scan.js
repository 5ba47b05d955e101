// @ts-check
// The scan page: a code typed, pasted, read by the camera or decoded from a photo, and the ledger's verdict.
import {
  api,
  ApiFailure,
  byId,
  expiryDate,
  facts,
  failureBox,
  formatTime,
  h,
  language,
  messageBox,
  onLanguageChange,
  organizationLink,
  recallText,
  session,
  shortHash,
  startPage,
  t,
  verificationMark,
} from "./app.js";

const GOOD = new Set(["GENUINE"]);
/**
 * Verdicts that mean "stop, this may be a counterfeit or a danger" rather than "check before selling": a held batch
 * is stopped like a recalled one until its MAH decides; a stolen, locked or destroyed pack is stopped whatever its
 * batch.
 */
const DANGER = new Set(["UNKNOWN_CODE", "REJECTED", "RECALLED", "ON_HOLD", "ALREADY_DISPENSED", "STOLEN", "LOCKED", "SUSPECT", "DESTROYED"]);

const result = byId("result", HTMLElement);
const progress = byId("progress", HTMLElement);
const codeField = byId("code", HTMLInputElement);
const photo = byId("photo", HTMLInputElement);
/**
 * What the page shows, kept so a language switch can redraw it.
 * @type {{ kind: "nothing" } | { kind: "answer", answer: any } | { kind: "failure", error: unknown } | { kind: "message", key: string, values: Record<string, unknown> }}
 */
let shown = { kind: "nothing" };

startPage("title.scan");
onLanguageChange(draw);

byId("scan-form", HTMLFormElement).addEventListener("submit", (event) => {
  event.preventDefault();
  // ␝ stands for the group separator a decoded photo showed in the field; the API wants the character itself.
  const code = codeField.value.trim().replace(/␝/g, "\u001d");
  if (code) void check(code);
  else codeField.focus();
});
photo.addEventListener("change", () => {
  const file = photo.files?.[0];
  if (file) void decodePhoto(file);
});
setUpCamera();

const initial = new URLSearchParams(location.search).get("code");
if (initial) {
  codeField.value = initial;
  void check(initial);
}

/** @param {string} code */
async function check(code) {
  progress.textContent = t("scan.checking");
  try {
    shown = { kind: "answer", answer: await api("/v1/scans", { method: "POST", body: { code } }) };
  } catch (error) {
    shown = { kind: "failure", error };
  }
  progress.textContent = "";
  draw();
}

function draw() {
  if (shown.kind === "answer") result.replaceChildren(verdictView(shown.answer));
  else if (shown.kind === "failure") result.replaceChildren(scanFailureBox(shown.error));
  else if (shown.kind === "message") result.replaceChildren(messageBox(shown.key, shown.values));
  else result.replaceChildren();
}

/** @param {any} answer the API's answer to POST /v1/scans */
function verdictView(answer) {
  const tone = GOOD.has(answer.verdict) ? "good" : DANGER.has(answer.verdict) ? "danger" : "warning";
  const signedIn = session();
  return h(
    "article",
    { class: `verdict verdict--${tone}`, id: "verdict", "data-verdict": answer.verdict },
    h("p", { class: "verdict__word" }, h("span", { "aria-hidden": "true" }, tone === "good" ? "✔ " : "✖ "), t(`verdict.${answer.verdict}`)),
    h("p", { class: "verdict__advice" }, t(adviceKey(answer))),
    h("p", { class: "verdict__reason", id: "reason" }, h("strong", {}, `${t("verdict.reason")}: `), reasonText(answer)),
    facts([
      ["field.code", answer.code.canonicalKey],
      ["field.ignoredAis", answer.code.ignoredAis?.map((/** @type {string} */ ai) => `(${ai})`).join(" ")],
      ["field.product", answer.product ? `${answer.product.name} (${answer.product.code})` : undefined],
      ["field.approvalNumber", answer.product?.approvalNumber],
      ["field.mah", answer.mah ? organizationLink(answer.mah) : undefined],
      ["field.batch", answer.batch ? h("a", { href: `/batches/${answer.batch.id}` }, answer.batch.batchNumber) : undefined],
      ["field.expiry", answer.batch ? expiryDate(answer.batch.expiresAt) : undefined],
      ["field.recall", answer.batch?.recall ? h("a", { href: `/recalls/${answer.batch.id}` }, recallText(answer.batch.recall)) : undefined],
      ["field.container", answer.container ? containerText(answer.container) : undefined],
      ["field.parent", answer.container?.parent ?? undefined],
    ]),
    answer.custody ? custodyView(answer.custody) : answer.batch && !signedIn ? h("p", { class: "hint" }, t("scan.signInForCustody")) : undefined,
  );
}

/** A scanned case or pallet: what it holds now. @param {any} container */
function containerText(container) {
  const { units, packs, unpacked } = container;
  return t("container.contents", { kind: t(`container.${container.kind}`), units, packs, unpacked });
}

/**
 * What to do: a batch whose recall is closed is no longer "being recalled", but its packs stay out of sale.
 * @param {any} answer
 */
function adviceKey(answer) {
  return answer.verdict === "RECALLED" && answer.batch?.recall?.status === "CLOSED"
    ? "verdict.RECALLED.closed.advice"
    : `verdict.${answer.verdict}.advice`;
}

/**
 * The details line in the page's language: the API answers its reason in English and, for the verdicts it words in
 * Chinese, in Chinese too.
 * @param {any} answer
 */
function reasonText(answer) {
  return language() === "zh-CN" && answer.reasonZh ? answer.reasonZh : answer.reason;
}

/**
 * A scan the API refused as malformed (a mistyped check digit, a code of the wrong length…) is the user's typing,
 * not a fault of the service: say so, with what the parser found.
 * @param {unknown} error
 */
function scanFailureBox(error) {
  if (!(error instanceof ApiFailure && error.kind === "refused" && error.status === 400)) return failureBox(error);
  return h(
    "div",
    { class: "alert alert--unavailable", role: "alert", id: "input-error" },
    h("p", { class: "alert__title" }, t("scan.inputError")),
    h("p", { lang: "en" }, error.message),
    h("p", {}, h("code", {}, error.code)),
  );
}

/** @param {any[]} entries */
function custodyView(entries) {
  return h(
    "section",
    { class: "custody", id: "custody" },
    h("h2", {}, t("custody.title")),
    entries.length === 0
      ? h("p", {}, t("custody.empty"))
      : h(
          "ol",
          { class: "timeline" },
          entries.map((entry) =>
            h(
              "li",
              {},
              h("strong", {}, t(`event.${entry.event}`)),
              " · ",
              organizationLink(entry.organization),
              " · ",
              h("time", {}, formatTime(entry.at)),
              " · ",
              h("code", { title: entry.txHash }, shortHash(entry.txHash)),
              " ",
              verificationMark(entry),
            ),
          ),
        ),
  );
}

// ---- reading codes from images: zxing, DataMatrix and QR ----

function reader() {
  const { BrowserMultiFormatReader, DecodeHintType, BarcodeFormat } = window.ZXing;
  /** @type {Map<import("@zxing/library").DecodeHintType, unknown>} */
  const hints = new Map();
  hints.set(DecodeHintType.POSSIBLE_FORMATS, [BarcodeFormat.DATA_MATRIX, BarcodeFormat.QR_CODE]);
  hints.set(DecodeHintType.TRY_HARDER, true);
  return new BrowserMultiFormatReader(hints);
}

/**
 * zxing writes FNC1 as the group separator (a leading one marks GS1 data); shown as ␝ so it can be read.
 * @param {string} text
 */
// eslint-disable-next-line no-control-regex -- the GS1 group separator is the character shown
const visible = (text) => text.replace(/\u001d/g, "␝");

/** @param {File} file */
async function decodePhoto(file) {
  progress.textContent = t("scan.decoding");
  const url = URL.createObjectURL(file);
  let text;
  try {
    text = (await reader().decodeFromImageUrl(url)).getText();
  } catch {
    progress.textContent = "";
    shown = { kind: "message", key: "scan.noBarcode", values: {} };
    draw();
    return;
  } finally {
    URL.revokeObjectURL(url);
  }
  codeField.value = visible(text);
  await check(text);
  progress.textContent = t("scan.decoded", { code: visible(text) });
}

/** Live scanning where the browser gives the page a camera (a secure origin with navigator.mediaDevices). */
function setUpCamera() {
  if (!navigator.mediaDevices?.getUserMedia) return;
  const button = byId("camera", HTMLButtonElement);
  const video = byId("camera-view", HTMLVideoElement);
  /** @type {import("@zxing/library").BrowserMultiFormatReader | undefined} */
  let live;
  const stop = () => {
    live?.reset();
    live = undefined;
    video.hidden = true;
    button.dataset.i18n = "scan.camera";
    button.textContent = t("scan.camera");
  };
  button.hidden = false;
  button.addEventListener("click", async () => {
    if (live) return stop();
    live = reader();
    video.hidden = false;
    button.dataset.i18n = "scan.cameraStop";
    button.textContent = t("scan.cameraStop");
    try {
      await live.decodeFromVideoDevice(null, video, (found) => {
        if (!found) return;
        const text = found.getText();
        stop();
        codeField.value = visible(text);
        void check(text);
      });
    } catch (error) {
      stop();
      shown = { kind: "message", key: "scan.cameraUnavailable", values: { message: error instanceof Error ? error.message : String(error) } };
      draw();
    }
  });
}
