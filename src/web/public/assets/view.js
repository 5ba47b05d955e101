// @ts-check
// What the pages that show one answer of the API in #content share: the loading line, the boxes for a bad
// address, a missing sign-in and a failure, a redraw in a newly chosen language, and the tables of lists.
import { api, byId, h, messageBox, onLanguageChange, session, showFailure, signInRequired, t } from "./app.js";

/** @typedef {import("./app.js").Child} Child */

/**
 * Fills #content with what `render` makes of `load()`'s answer (a node or a list of nodes), or says why there is
 * none: the address names nothing (`badAddress`), the answer needs an organization and none is signed in
 * (`needsSignIn`), or the call failed. Redrawn, without calling the API again, when the language changes.
 * @template A
 * @param {{ load: () => Promise<A>, render: (answer: A) => Node | Node[], badAddress?: boolean, needsSignIn?: boolean }} page
 */
export function showAnswer({ load, render, badAddress = false, needsSignIn = true }) {
  const content = byId("content", HTMLElement);
  /** @type {{ kind: "bad-address" } | { kind: "sign-in" } | { kind: "failure", error: unknown } | { kind: "answer", answer: A } | undefined} */
  let shown;
  const draw = () => {
    if (!shown) return;
    if (shown.kind === "bad-address") return content.replaceChildren(messageBox("error.badAddress", { path: location.pathname }));
    if (shown.kind === "sign-in") return content.replaceChildren(signInRequired());
    if (shown.kind === "failure") return showFailure(content, shown.error);
    content.replaceChildren(...[render(shown.answer)].flat());
  };
  onLanguageChange(draw);
  void (async () => {
    if (badAddress) shown = { kind: "bad-address" };
    else if (needsSignIn && !session()) shown = { kind: "sign-in" };
    else {
      content.replaceChildren(h("p", { class: "progress" }, t("error.loading")));
      try {
        shown = { kind: "answer", answer: await load() };
      } catch (error) {
        shown = { kind: "failure", error };
      }
    }
    draw();
  })();
}

/**
 * A list page: the first page of `path`'s items (the signed-in organization's, as the API scopes them) as the table
 * `id`, or the string `emptyKey` when there are none. `cells(item)` gives a row's cells, the first naming the row.
 * @param {{ path: string, id: string, emptyKey: string, head: string[], cells: (item: any) => Child[] }} list
 */
export function showList({ path, id, emptyKey, head, cells }) {
  /** @param {unknown} item */
  const row = (item) => {
    const [name, ...rest] = cells(item);
    return h(
      "tr",
      {},
      h("th", { scope: "row" }, name),
      rest.map((cell) => h("td", {}, cell)),
    );
  };
  showAnswer({
    load: async () => /** @type {unknown[]} */ ((await api(`${path}?limit=100`)).items),
    render: (items) => (items.length === 0 ? h("p", {}, t(emptyKey)) : table({ id, head, rows: items.map(row) })),
  });
}

/**
 * A table that scrolls sideways on its own on a narrow screen; `head` are the columns' string keys.
 * @param {{ id: string, head: string[], rows: Node[], numeric?: Set<string> }} table
 */
export function table({ id, head, rows, numeric = new Set() }) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { id },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          head.map((key) => h("th", { scope: "col", class: numeric.has(key) ? "number" : undefined }, t(key))),
        ),
      ),
      h("tbody", {}, rows),
    ),
  );
}
