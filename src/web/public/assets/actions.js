// @ts-check
// What the pages that sign share: forms whose every control has a visible label (and so an accessible name),
// one place that says what a signing did (or why the ledger refused it), and the drafts a language switch keeps.
import { h, t } from "./app.js";
import { attestTogether, signingFailureBox } from "./signing.js";

/** @typedef {import("./app.js").Child} Child */

/**
 * One labelled control: an input (or a select when `options` are given), with an optional hint tied to it. A
 * `multiline` field is a textarea, one entry a line: a handheld scanner types a code and Enter into it, so scanning
 * and pasting fill it alike.
 * @param {{ id: string, label: string, type?: string, options?: Array<[string, string]>, multiline?: boolean, hint?: string, required?: boolean, attributes?: Record<string, unknown> }} field
 */
export function field({ id, label, type = "text", options, multiline = false, hint, required = true, attributes = {} }) {
  const hintId = hint ? `${id}-hint` : undefined;
  const common = { id, name: id, required, "aria-describedby": hintId, ...attributes };
  const control = options
    ? h(
        "select",
        common,
        options.map(([value, text]) => h("option", { value }, text)),
      )
    : multiline
      ? h("textarea", { rows: 4, spellcheck: "false", autocomplete: "off", ...common })
      : h("input", { type, autocomplete: "off", spellcheck: type === "text" ? "false" : undefined, ...common });
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hint ? h("p", { class: "hint", id: hintId }, hint) : undefined);
}

/**
 * A form that signs: its heading, fields and submit button; `submit` gets the form's values by control id.
 * @param {{ id: string, title: string, intro?: string, fields: Node[], action: string, disabled?: boolean, disabledReason?: string, submit: (values: Record<string, string>) => Promise<void> }} form
 */
export function signingForm({ id, title, intro, fields, action, disabled = false, disabledReason, submit }) {
  const reasonId = disabledReason ? `${id}-why` : undefined;
  const button = h("button", { type: "submit", class: "primary", id: `${id}-submit`, disabled, "aria-describedby": reasonId }, action);
  const element = /** @type {HTMLFormElement} */ (
    h(
      "form",
      { id, class: "panel", "aria-labelledby": `${id}-title`, novalidate: true },
      h("h2", { id: `${id}-title` }, title),
      intro ? h("p", {}, intro) : undefined,
      fields,
      disabledReason ? h("p", { class: "hint", id: reasonId }, disabledReason) : undefined,
      h("div", { class: "row" }, button),
    )
  );
  element.addEventListener("submit", (event) => {
    event.preventDefault();
    const missing = [...element.querySelectorAll("input, select, textarea")].find(
      (control) => (control instanceof HTMLInputElement || control instanceof HTMLTextAreaElement) && control.required && control.value.trim() === "",
    );
    if (missing instanceof HTMLElement) {
      missing.setAttribute("aria-invalid", "true");
      missing.focus();
      return;
    }
    /** @type {Record<string, string>} */
    const values = {};
    for (const control of element.querySelectorAll("input, select, textarea")) {
      if (control instanceof HTMLInputElement || control instanceof HTMLSelectElement || control instanceof HTMLTextAreaElement)
        values[control.id] = control.value;
    }
    button.setAttribute("disabled", "");
    element.setAttribute("aria-busy", "true");
    void submit(values).finally(() => {
      element.removeAttribute("aria-busy");
      if (!disabled) button.removeAttribute("disabled");
    });
  });
  return element;
}

/**
 * The page's outcome area: what the last signing did, or why it was refused. It survives redraws of the content.
 * @param {HTMLElement} outcome
 */
export function signer(outcome) {
  /** @type {{ kind: "done", key: string, values: Record<string, unknown> } | { kind: "failed", error: unknown } | { kind: "working" } | undefined} */
  let last;
  const draw = () => {
    if (!last) return outcome.replaceChildren();
    if (last.kind === "working") return outcome.replaceChildren(h("p", { class: "progress", role: "status" }, t("signing.working")));
    if (last.kind === "failed") return outcome.replaceChildren(signingFailureBox(last.error));
    outcome.replaceChildren(h("p", { class: "alert alert--ok", role: "status", id: "signed" }, t(last.key, last.values)));
  };
  return {
    draw,
    /**
     * Signs and relays one attestation, then says what changed (string `doneKey`, filled with the block it is in
     * and `values`).
     * @param {string} type
     * @param {Record<string, unknown>} fields
     * @param {string} doneKey
     * @param {{ proof?: string[], proofFlags?: boolean[] }} [extra]
     * @param {Record<string, unknown>} [values]
     * @returns {Promise<import("/assets/ledger.js").RelayResult | undefined>} the relay's answer, or undefined when refused
     */
    async sign(type, fields, doneKey, extra, values = {}) {
      return this.signTogether([{ type, fields, extra }], doneKey, values);
    },
    /**
     * Signs and relays several attestations as one request (whole or nothing), then says what changed as `sign` does.
     * @param {Array<{ type: string, fields: Record<string, unknown>, extra?: { proof?: string[], proofFlags?: boolean[] } }>} steps
     * @param {string} doneKey
     * @param {Record<string, unknown>} [values]
     * @returns {Promise<import("/assets/ledger.js").RelayResult | undefined>} the relay's answer, or undefined when refused
     */
    async signTogether(steps, doneKey, values = {}) {
      last = { kind: "working" };
      draw();
      try {
        const result = await attestTogether(steps);
        last = { kind: "done", key: doneKey, values: { block: result.transactions[0]?.blockNumber ?? "—", ...values } };
        return result;
      } catch (error) {
        last = { kind: "failed", error };
        return undefined;
      } finally {
        draw();
      }
    },
    /**
     * Shows why a step before signing failed (the API refused the scanned codes …); nothing was signed.
     * @param {unknown} error
     */
    refuse(error) {
      last = { kind: "failed", error };
      draw();
    },
  };
}

/**
 * Keeps what was typed into `container`'s controls across a redraw (a language switch rebuilds the forms).
 * @param {HTMLElement} container
 * @param {() => void} redraw
 */
export function keepingDrafts(container, redraw) {
  /** @type {Map<string, string>} */
  const drafts = new Map();
  for (const control of container.querySelectorAll("input, select")) {
    if ((control instanceof HTMLInputElement && control.type !== "file") || control instanceof HTMLSelectElement)
      drafts.set(control.id, control.value);
  }
  redraw();
  for (const [id, value] of drafts) {
    const control = document.getElementById(id);
    if (control instanceof HTMLInputElement || control instanceof HTMLSelectElement) control.value = value;
  }
}

/**
 * A gate or check as a list item: a mark (✓ or ✗, with words for screen readers) and what it says.
 * @param {boolean} passed
 * @param {Child[]} children
 * @param {Record<string, unknown>} [attributes]
 */
export function checkItem(passed, children, attributes = {}) {
  return h(
    "li",
    { class: passed ? "gate gate--ok" : "gate gate--bad", "data-passed": String(passed), ...attributes },
    h("span", { class: "gate__mark", "aria-hidden": "true" }, passed ? "✓" : "✗"),
    h("span", { class: "visually-hidden" }, t(passed ? "gate.passed" : "gate.failed")),
    " ",
    ...children,
  );
}

/**
 * The codes typed, scanned or pasted into a field, one a line, blank lines and repeats dropped.
 * @param {string} text
 */
export function codeLines(text) {
  return [
    ...new Set(
      text
        .split(/\r?\n/)
        .map((line) => line.trim())
        .filter((line) => line.length > 0),
    ),
  ];
}

/**
 * After a signing that changed the ledger, the page reads it again.
 * @param {unknown} result the relay's answer, or undefined when refused
 * @param {() => Promise<void>} reload
 */
export async function afterSigning(result, reload) {
  if (result) await reload();
}
