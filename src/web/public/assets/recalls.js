// The recalls the signed-in organization may read, each linking to its reconciliation.
import { api, formatTime, h, onLanguageChange, session, showFailure, signInRequired, startPage, t } from "./app.js";

const content = document.getElementById("content");
let shown;

startPage("title.recalls");
onLanguageChange(draw);
void load();

async function load() {
  if (!session()) shown = { kind: "sign-in" };
  else {
    content.replaceChildren(h("p", { class: "progress" }, t("error.loading")));
    try {
      shown = { kind: "list", items: (await api("/v1/recalls?limit=100")).items };
    } catch (error) {
      shown = { kind: "failure", error };
    }
  }
  draw();
}

function draw() {
  if (!shown) return;
  if (shown.kind === "sign-in") return content.replaceChildren(signInRequired());
  if (shown.kind === "failure") return showFailure(content, shown.error);
  if (shown.items.length === 0) return content.replaceChildren(h("p", {}, t("recalls.empty")));
  const head = ["field.batch", "recall.level", "recall.status", "recall.startedAt", "recall.deadline"];
  content.replaceChildren(
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { id: "recalls" },
        h("thead", {}, h("tr", {}, head.map((key) => h("th", { scope: "col" }, t(key))))),
        h(
          "tbody",
          {},
          shown.items.map((recall) =>
            h(
              "tr",
              {},
              h("th", { scope: "row" }, h("a", { href: `/recalls/${recall.batchId}` }, recall.batchNumber)),
              h("td", {}, t(`recall.levelName.${recall.level}`)),
              h("td", {}, t(`recall.status.${recall.status}`)),
              h("td", {}, formatTime(recall.startedAt)),
              h("td", {}, formatTime(recall.acknowledgeBy)),
            ),
          ),
        ),
      ),
    ),
  );
}
