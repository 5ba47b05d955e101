// The batches the signed-in organization may read, each linking to its provenance.
import { api, expiryDate, h, onLanguageChange, recallText, session, showFailure, signInRequired, startPage, t } from "./app.js";

const content = document.getElementById("content");
let shown;

startPage("title.batches");
onLanguageChange(draw);
void load();

async function load() {
  if (!session()) shown = { kind: "sign-in" };
  else {
    content.replaceChildren(h("p", { class: "progress" }, t("error.loading")));
    try {
      shown = { kind: "list", items: (await api("/v1/batches?limit=100")).items };
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
  if (shown.items.length === 0) return content.replaceChildren(h("p", {}, t("batches.empty")));
  const head = ["field.batch", "field.product", "field.expiry", "field.state", "field.recall"];
  content.replaceChildren(
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { id: "batches" },
        h("thead", {}, h("tr", {}, head.map((key) => h("th", { scope: "col" }, t(key))))),
        h(
          "tbody",
          {},
          shown.items.map((batch) =>
            h(
              "tr",
              {},
              h("th", { scope: "row" }, h("a", { href: `/batches/${batch.id}` }, batch.batchNumber)),
              h("td", {}, batch.product.name),
              h("td", {}, expiryDate(batch.expiresAt)),
              h("td", {}, t(`state.${batch.state}`)),
              h("td", {}, batch.recall ? h("a", { href: `/recalls/${batch.id}` }, recallText(batch.recall)) : t("recall.none")),
            ),
          ),
        ),
      ),
    ),
  );
}
