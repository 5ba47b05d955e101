// @ts-check
// Signing attestations in the page with the signed-in organization's key and handing them to the relay: the same
// catalogue, EIP-712 domains and signing code as the CLI (bundled from src/ledger as /assets/ledger.js), the same
// refusal words. The key is unlocked in the page when first needed and forgotten with it.
import { id as hashText, isHexString, Wallet } from "/vendor/ethers.js";
import { actorFieldOf, attestationSpec, createNonceSequence, domainOf, REFUSAL_TITLES, RELAY_PATH, signAttestation } from "/assets/ledger.js";
import { api, ApiFailure, failureBox, h, language, session, t } from "./app.js";

/** @typedef {import("/assets/ledger.js").Deployment} Deployment */
/** @typedef {import("/assets/ledger.js").RelayResult} RelayResult */

/** A signing that could not start: no key in this tab, or the user closed the password prompt. */
export class SigningStopped extends Error {
  /** @param {string} key the string that says why */
  constructor(key) {
    super(key);
    this.key = key;
  }
}

/** @type {Promise<Deployment> | undefined} */
let deployment;
/** @type {Wallet | undefined} */
let unlocked;
const nextNonce = createNonceSequence();

/** The chain and contracts to sign for, as the API announces them (GET /v1/ledger). */
function ledgerDeployment() {
  deployment ??= api("/v1/ledger").catch((error) => {
    deployment = undefined;
    throw error;
  });
  return deployment;
}

/** The signed-in organization's key, unlocked once per page: a demo key at once, a keystore with its password. */
async function signingKey() {
  const signedIn = session();
  if (!signedIn?.signer) throw new SigningStopped("signing.noKey");
  if (unlocked && unlocked.address === signedIn.key) return unlocked;
  const wallet = signedIn.signer.kind === "demo" ? new Wallet(signedIn.signer.privateKey) : await askPassword(signedIn.signer.json);
  if (wallet.address.toLowerCase() !== signedIn.key.toLowerCase()) throw new SigningStopped("signing.otherKey");
  unlocked = wallet;
  return wallet;
}

/**
 * A modal prompt for the keystore's password; resolves with the decrypted key, or rejects when closed.
 * @param {string} json
 * @returns {Promise<Wallet>}
 */
function askPassword(json) {
  const password = h("input", { id: "signing-password", type: "password", autocomplete: "current-password", required: true });
  const problem = h("p", { id: "signing-problem", role: "alert" });
  const unlock = h("button", { type: "submit", class: "primary" }, t("signing.unlock"));
  const cancel = h("button", { type: "button", value: "cancel" }, t("signing.cancel"));
  const form = h(
    "form",
    { method: "dialog" },
    h("h2", { id: "signing-title" }, t("signing.passwordTitle")),
    h("label", { for: "signing-password" }, t("signing.password")),
    password,
    problem,
    h("div", { class: "row" }, unlock, cancel),
  );
  const dialog = /** @type {HTMLDialogElement} */ (h("dialog", { class: "signing-dialog", "aria-labelledby": "signing-title" }, form));
  document.body.append(dialog);
  return new Promise((resolve, reject) => {
    const close = () => dialog.remove();
    cancel.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      close();
      reject(new SigningStopped("signing.cancelled"));
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      problem.textContent = t("signIn.decrypting");
      Wallet.fromEncryptedJson(json, /** @type {HTMLInputElement} */ (password).value).then(
        (wallet) => {
          dialog.removeEventListener("close", close);
          close();
          resolve(/** @type {Wallet} */ (wallet));
        },
        () => {
          problem.textContent = t("signIn.badKeystore");
          /** @type {HTMLInputElement} */ (password).select();
        },
      );
    });
    dialog.showModal();
  });
}

/** Message values as the relay's JSON body takes them: integers beyond a JSON number as decimal strings. */
/** @param {Record<string, unknown>} message */
function wireMessage(message) {
  return Object.fromEntries(Object.entries(message).map(([name, value]) => [name, typeof value === "bigint" ? value.toString() : value]));
}

/**
 * Signs attestations as the signed-in organization (its id in each attestation's first field, a fresh nonce each)
 * and relays them as one request, answering once it is mined and indexed, so the page can show the ledger changed.
 * The relay runs them in order, whole or not at all: a step that needs the one before it (a report of packs
 * locked first) never lands half done.
 * @param {Array<{ type: string, fields: Record<string, unknown>, extra?: { proof?: string[], proofFlags?: boolean[] } }>} steps
 * @returns {Promise<RelayResult>}
 */
export async function attestTogether(steps) {
  const signedIn = session();
  if (!signedIn) throw new SigningStopped("signing.noKey");
  const key = await signingKey();
  const deployment = await ledgerDeployment();
  const attestations = [];
  for (const { type, fields, extra = {} } of steps) {
    const spec = attestationSpec(type);
    if (!spec) throw new Error(`no attestation ${type} in the catalogue`);
    const message = { [actorFieldOf(type)]: signedIn.organizationId, nonce: nextNonce(), ...fields };
    // The catalogue types an attestation's name by its contract; here the contract is whatever the name's entry says.
    const attestation = /** @type {import("/assets/ledger.js").Attestation<any>} */ ({ domain: domainOf(deployment, spec.contract), type, message });
    const signature = await signAttestation(key, attestation);
    attestations.push({ contract: spec.contract, type, message: wireMessage(message), signature, ...extra });
  }
  return api(RELAY_PATH, { method: "POST", body: { attestations, wait: true } });
}

/**
 * Keeps a reason's text with the API (`POST /v1/reasons`, so those who read the signed step read its words), then
 * returns the hash to sign; an empty optional reason is the zero hash and keeps nothing.
 * @param {string} text
 */
export async function keptReason(text) {
  if (text.trim() === "") return `0x${"00".repeat(32)}`;
  await api("/v1/reasons", { method: "POST", body: { text: text.trim() } });
  return documentHash(text);
}

/**
 * A document's hash as the CLI takes it (`--reason`, `--decision` …): a 0x hash as it is, else the keccak-256 of
 * the text, so the ledger carries the hash and the text stays with the organization.
 * @param {string} text
 */
export function documentHash(text) {
  const trimmed = text.trim();
  return isHexString(trimmed, 32) ? trimmed.toLowerCase() : hashText(trimmed);
}

/**
 * What a signing's failure says: a refusal's headline in the page's language above the relay's own sentence (the
 * CLI's words) and its code; a stopped signing in one line; anything else as every page shows failures.
 * @param {unknown} error
 */
export function signingFailureBox(error) {
  if (error instanceof SigningStopped) return h("div", { class: "alert", role: "alert" }, h("p", { class: "alert__title" }, t(error.key)));
  if (!(error instanceof ApiFailure) || error.kind !== "refused" || error.status === 401) return failureBox(error);
  // A 400 without a headline of its own is the user's input (a mistyped code), not the ledger's refusal.
  const title = REFUSAL_TITLES[error.code]?.[language()] ?? t(error.status === 400 ? "signing.badInput" : "signing.refused");
  return h(
    "div",
    { class: "alert refusal", role: "alert", "data-code": error.code },
    h("p", { class: "alert__title" }, title),
    h("p", { lang: "en" }, error.message),
    h("p", {}, h("code", {}, error.code)),
  );
}
