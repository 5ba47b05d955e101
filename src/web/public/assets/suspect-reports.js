// @ts-check
// Suspect-product reports the signed-in organization may see (regulators: all), newest first.
import { api, formatTime, h, startPage, t } from "./app.js";
import { showAnswer, table } from "./view.js";

startPage("title.suspectReports");
showAnswer({
  load: async () => /** @type {any[]} */ ((await api("/v1/suspect-reports")).reports),
  render: (reports) =>
    reports.length === 0
      ? h("p", {}, t("suspect.empty"))
      : table({
          id: "suspect-reports",
          head: ["suspect.batch", "suspect.filedBy", "suspect.filedAt", "suspect.packs", "suspect.status", "suspect.outcome", "suspect.reason"],
          rows: reports.map((r) =>
            h(
              "tr",
              { "data-report": r.id },
              h("th", { scope: "row" }, h("a", { href: `/suspect-reports/${r.id}` }, r.batchNumber ?? r.batchId)),
              h("td", {}, `${r.filedBy} ${r.filedByName ?? ""}`),
              h("td", {}, formatTime(r.filedAt)),
              h("td", {}, r.packs.length === 0 ? t("suspect.wholeBatch") : String(r.packs.length)),
              h("td", {}, t(`suspect.${r.status}`)),
              h("td", {}, t(`suspect.outcome.${r.outcome}`)),
              h("td", {}, r.reason ?? r.reasonHash),
            ),
          ),
        }),
});
