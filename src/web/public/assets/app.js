// @ts-check
// What every page shares: language, the signed-in organization, calls to the API, and showing their failures.
import { LANGUAGES, STRINGS } from "./i18n.js";

const LANGUAGE_KEY = "trace.language";
const SESSION_KEY = "trace.session";
const DEFAULT_LANGUAGE = "zh-CN";

/** @typedef {import("./i18n.js").Language} Language */
/** What h() takes as a child: a node, or text; absent ones (undefined, null, false) are skipped. */
/** @typedef {Node | string | number | false | null | undefined} Child */
/**
 * What signs for the organization in this tab: a demo organization's development key, or the organization's
 * keystore as it was chosen, still encrypted (its password is asked when signing, the key lives only in the page).
 * @typedef {{ kind: "demo", privateKey: string } | { kind: "keystore", json: string }} SignerSource
 */
/** The signed-in organization as kept for this tab. */
/** @typedef {{ token: string, expiresAt: number, organizationId: number, role: string, name: string, key: string, signer?: SignerSource }} Session */

/** @returns {Language} */
export function language() {
  const chosen = localStorage.getItem(LANGUAGE_KEY);
  return chosen && chosen in LANGUAGES ? /** @type {Language} */ (chosen) : DEFAULT_LANGUAGE;
}

/**
 * The string `key` in the current language, with `{name}` placeholders filled from `values`.
 * @param {string} key
 * @param {Record<string, unknown>} [values]
 */
export function t(key, values = {}) {
  const text = STRINGS[language()][key] ?? STRINGS[DEFAULT_LANGUAGE][key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : `{${name}}`));
}

/** Fills every element marked `data-i18n` with its text, and the page's <html lang>. */
export function translatePage() {
  document.documentElement.lang = language();
  for (const element of document.querySelectorAll("[data-i18n]")) element.textContent = t(element.getAttribute("data-i18n") ?? "");
}

/**
 * An element with attributes and children; text is always set as text, never parsed as HTML. An `on<event>`
 * attribute is a listener.
 * @param {string} tag
 * @param {Record<string, unknown>} [attributes]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElement}
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") element.className = String(value);
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), /** @type {EventListener} */ (value));
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/**
 * The page's element `id`, of the kind its HTML declares; a missing one is a fault of the page, said as such.
 * @template {HTMLElement} T
 * @param {string} id
 * @param {new () => T} kind
 * @returns {T}
 */
export function byId(id, kind) {
  const found = document.getElementById(id);
  if (!(found instanceof kind)) throw new Error(`this page has no ${kind.name} #${id}`);
  return found;
}

// ---- the signed-in organization: a bearer token kept for this tab only ----

/** @returns {Session | undefined} */
export function session() {
  let value;
  try {
    value = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? "null");
  } catch {
    value = null; // storage edited by hand or by an older page: treat as signed out
  }
  if (!value?.token || !(value.expiresAt * 1000 > Date.now())) {
    sessionStorage.removeItem(SESSION_KEY);
    return undefined;
  }
  return value;
}

/** @param {Session} value */
export function saveSession(value) {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(value));
}

export function signOut() {
  sessionStorage.removeItem(SESSION_KEY);
}

// ---- calling the API ----

/** A failed call: `unavailable` when the service could not be reached, else the API's error code and message. */
export class ApiFailure extends Error {
  /**
   * @param {"unavailable" | "unreadable" | "refused"} kind
   * @param {number} status the HTTP status; 0 when there was no answer
   * @param {string} code
   * @param {string} message
   */
  constructor(kind, status, code, message) {
    super(message);
    this.kind = kind;
    this.status = status;
    this.code = code;
  }
}

/**
 * Calls the API as the signed-in organization (when there is one) and returns the parsed JSON answer.
 * @param {string} path
 * @param {{ method?: string, body?: unknown }} [request]
 * @returns {Promise<any>} the answer as the API's OpenAPI document describes it
 */
export async function api(path, { method = "GET", body } = {}) {
  /** @type {Record<string, string>} */
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  const signedIn = session();
  if (signedIn) headers.authorization = `Bearer ${signedIn.token}`;
  return readAnswer(await reach(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }));
}

/**
 * `fetch`, a network failure (no answer at all) thrown as the ApiFailure "unavailable".
 * @param {string} path
 * @param {RequestInit} [init]
 */
export async function reach(path, init) {
  try {
    return await fetch(path, init);
  } catch (error) {
    throw new ApiFailure("unavailable", 0, "UNAVAILABLE", error instanceof Error ? error.message : String(error));
  }
}

/**
 * The JSON of a successful answer, or an ApiFailure carrying the API's error code and message.
 * @param {Response} response
 * @returns {Promise<any>}
 */
export async function readAnswer(response) {
  let answer;
  try {
    answer = await response.json();
  } catch {
    // A proxy's error page or a half-closed connection: no JSON to show, but still a clear message.
    throw new ApiFailure(
      response.status >= 500 ? "unavailable" : "unreadable",
      response.status,
      "UNREADABLE",
      t("error.notJson", { status: response.status }),
    );
  }
  if (!response.ok) {
    const error = answer?.error ?? {};
    if (response.status === 401 && (error.code === "EXPIRED_TOKEN" || error.code === "INVALID_TOKEN")) signOut();
    throw new ApiFailure("refused", response.status, error.code ?? "ERROR", error.message ?? response.statusText);
  }
  return answer;
}

/**
 * An alert box that says what failed and, when signing in would help, links to the sign-in page.
 * @param {unknown} error
 */
export function failureBox(error) {
  const box = h("div", { class: "alert", role: "alert" });
  if (!(error instanceof ApiFailure)) {
    box.append(h("p", {}, t("error.script", { message: error instanceof Error ? error.message : String(error) })));
    return box;
  }
  if (error.kind === "unavailable") {
    box.classList.add("alert--unavailable");
    box.append(h("p", { class: "alert__title" }, t("error.unavailable")));
    return box;
  }
  if (error.kind === "unreadable") {
    box.append(h("p", { class: "alert__title" }, error.message));
    return box;
  }
  box.append(h("p", { class: "alert__title" }, t("error.api", { status: error.status, code: error.code, message: error.message })));
  if (error.status === 401) {
    box.append(h("p", {}, t(error.code === "EXPIRED_TOKEN" ? "signIn.expired" : "signIn.required"), " ", signInLink()));
  }
  return box;
}

/**
 * An alert box holding one message, the string `key` filled from `values`.
 * @param {string} key
 * @param {Record<string, unknown>} [values]
 */
export function messageBox(key, values = {}) {
  return h("div", { class: "alert", role: "alert" }, h("p", { class: "alert__title" }, t(key, values)));
}

/**
 * Replaces `container`'s content with the failure's message.
 * @param {Element} container
 * @param {unknown} error
 */
export function showFailure(container, error) {
  container.replaceChildren(failureBox(error));
}

export function signInLink() {
  return h("a", { href: `/sign-in?next=${encodeURIComponent(location.pathname + location.search)}` }, t("signIn.go"));
}

/** A box asking to sign in, for pages every answer of which needs an organization. */
export function signInRequired() {
  return h("div", { class: "alert alert--info", role: "alert" }, h("p", {}, t("signIn.required"), " ", signInLink()));
}

// ---- formatting ----

const CHINA_OFFSET_SECONDS = 8 * 3600;

/**
 * A moment, shown in China Standard Time as every party on the ledger reads it.
 * @param {number | null | undefined} seconds Unix seconds
 */
export function formatTime(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  return new Intl.DateTimeFormat(language(), { timeZone: "Asia/Shanghai", dateStyle: "medium", timeStyle: "short" }).format(new Date(seconds * 1000));
}

/**
 * A batch's expiry as packs print it. `expiresAt` is the batch's last valid second, 23:59:59 China time on the
 * printed date (src/ledger/expiry.ts defines it); an expiry that is not the end of a day is shown with its time.
 * @param {number} expiresAt Unix seconds
 */
export function expiryDate(expiresAt) {
  const chinaSeconds = expiresAt + CHINA_OFFSET_SECONDS;
  if ((chinaSeconds + 1) % 86400 !== 0) return formatTime(expiresAt);
  return new Date(chinaSeconds * 1000).toISOString().slice(0, 10);
}

/** @param {string} role */
export function roleName(role) {
  return t(`role.${role}`);
}

/** @param {string | null | undefined} hash */
export function shortHash(hash) {
  return hash && hash.length > 14 ? `${hash.slice(0, 8)}…${hash.slice(-6)}` : hash;
}

/**
 * Whether an entry's signature verified. "bootstrap" is the first regulator, set by the deployment with no
 * signature: neither verified nor a failure, and said as such.
 * @param {{ verification: string, problem?: string | null }} entry
 */
export function verificationMark(entry) {
  if (entry.verification === "verified") return h("span", { class: "mark mark--ok" }, t("timeline.verified"));
  if (entry.verification === "bootstrap") return h("span", { class: "mark" }, t("timeline.bootstrap"));
  return h("span", { class: "mark mark--bad" }, t("timeline.notVerified", { problem: entry.problem ?? entry.verification }));
}

/** @param {{ id: number, name: string } | null | undefined} organization */
export function organizationLink(organization) {
  if (!organization) return "—";
  return h("a", { href: `/organizations/${organization.id}` }, organization.name);
}

/**
 * A definition list of [label key, value] pairs, skipping absent values.
 * @param {Array<[string, Child]>} pairs
 */
export function facts(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs.filter(([, value]) => value !== undefined).flatMap(([key, value]) => [h("dt", {}, t(key)), h("dd", {}, value)]),
  );
}

/** @param {{ status: string, level: string | null } | null | undefined} recall */
export function recallText(recall) {
  return recall ? t(`recall.${recall.status}`, { level: recall.level }) : t("recall.none");
}

/**
 * The id in the page's address (`/batches/<id>`): the pattern's first group, or undefined when the address does not
 * match it.
 * @param {RegExp} pattern
 */
export function pathId(pattern) {
  const match = pattern.exec(decodeURIComponent(location.pathname));
  return match ? match[1] : undefined;
}

// ---- the frame around every page ----

let pageTitleKey = "app.name";
/** @type {Array<() => void>} */
const redrawers = [];

/**
 * Header (navigation, who is signed in, language switch), title and translations; call once per page.
 * @param {string} titleKey
 */
export function startPage(titleKey) {
  pageTitleKey = titleKey;
  drawFrame();
  // A script failure must not leave a blank page.
  window.addEventListener("unhandledrejection", (event) => reportUnexpected(event.reason));
  window.addEventListener("error", (event) => reportUnexpected(event.error ?? event.message));
}

/**
 * Registers what redraws the page's own content in a newly chosen language.
 * @param {() => void} redraw
 */
export function onLanguageChange(redraw) {
  redrawers.push(redraw);
}

function drawFrame() {
  const header = byId("site-header", HTMLElement);
  const signedIn = session();
  const current = location.pathname;
  /** @type {(href: string, key: string) => HTMLElement} */
  const link = (href, key) =>
    h("a", { href, "aria-current": (href === "/" ? current === "/" : current.startsWith(href)) ? "page" : undefined }, t(key));
  const nav = h(
    "nav",
    { "aria-label": t("nav.main") },
    h(
      "ul",
      {},
      h("li", {}, link("/", "nav.scan")),
      h("li", {}, link("/batches", "nav.batches")),
      h("li", {}, link("/recalls", "nav.recalls")),
      signedIn ? h("li", {}, link("/stock", "nav.stock")) : undefined,
      signedIn?.role === "CMO" ? h("li", {}, link("/batches/new", "nav.record")) : undefined,
      signedIn ? h("li", {}, link("/alerts", "nav.alerts")) : undefined,
      signedIn ? h("li", {}, link("/suspect-reports", "nav.suspectReports")) : undefined,
      signedIn?.role === "REGULATOR" ? h("li", {}, link("/ratings", "nav.ratings")) : undefined,
    ),
  );
  const who = signedIn
    ? h(
        "span",
        { class: "session", id: "session" },
        t("session.as", { name: signedIn.name, role: roleName(signedIn.role) }),
        " ",
        h("button", { type: "button", class: "link-button", id: "sign-out", onclick: () => (signOut(), location.reload()) }, t("nav.signOut")),
      )
    : h("span", { class: "session", id: "session" }, t("session.anonymous"), " ", h("a", { href: "/sign-in" }, t("nav.signIn")));
  const switcher = h(
    "button",
    {
      type: "button",
      id: "language",
      class: "language",
      lang: language() === "en" ? "zh-CN" : "en",
      "aria-label": t("lang.switchLabel"),
      onclick: switchLanguage,
    },
    t("lang.switch"),
  );
  header.replaceChildren(h("a", { class: "brand", href: "/" }, t("app.name")), nav, h("div", { class: "header__tools" }, who, switcher));
  document.title = `${t(pageTitleKey)} · ${t("app.name")}`;
  translatePage();
}

/** @param {unknown} error */
function reportUnexpected(error) {
  document.getElementById("main")?.prepend(failureBox(error));
}

/** Switches language and redraws the page in it, keeping what it shows; the choice is remembered for every page. */
function switchLanguage() {
  localStorage.setItem(LANGUAGE_KEY, language() === "en" ? "zh-CN" : "en");
  drawFrame();
  for (const redraw of redrawers) redraw();
  byId("language", HTMLButtonElement).focus();
}
