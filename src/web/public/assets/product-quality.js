// @ts-check
// A product's quality file: its risk class, shortage listing and stop-production reports, its named responsible
// persons (the QP who signs release), its quarterly quality reviews and the CAPAs of its batches, overdue marked.
import { api, facts, formatTime, h, pathId, startPage, t } from "./app.js";
import { showAnswer, table } from "./view.js";

startPage("title.productQuality");
const productId = pathId(/^\/products\/(0x[0-9a-fA-F]{64})\/quality$/)?.toLowerCase();

/** @param {any} p the API's product quality */
function summary(p) {
  return h(
    "section",
    { "aria-labelledby": "product-title", id: "product" },
    h("h2", { id: "product-title" }, p.productName),
    facts([
      ["quality.riskClass", t(`riskClass.${p.riskClass ?? "NONE"}`)],
      ["product.shortage", p.shortageListed ? h("strong", {}, t("product.shortageListed")) : t("product.notShortage")],
      [
        "product.stopReports",
        p.stopProductionReports.length === 0
          ? t("duties.none")
          : p.stopProductionReports
              .map((/** @type {any} */ r) => t("product.stopAt", { stop: formatTime(r.stopAt), at: formatTime(r.reportedAt) }))
              .join("；"),
      ],
      [
        "quality.persons",
        p.responsiblePersons.length === 0
          ? t("duties.none")
          : p.responsiblePersons
              .map(
                (/** @type {any} */ person) =>
                  `${person.name} · ${t(`personRole.${person.role}`)}${person.revoked ? ` · ${t("quality.revoked")}` : ""}`,
              )
              .join("；"),
      ],
      [
        "quality.reviews",
        p.qualityReviews.length === 0
          ? t("duties.none")
          : p.qualityReviews.map((/** @type {any} */ r) => `${r.year}Q${r.quarter} ${t(`riskLevel.${r.riskLevel}`)}`).join("；"),
      ],
    ]),
  );
}

/** @param {any[]} capas */
function capasView(capas) {
  return h(
    "section",
    { "aria-labelledby": "capas-title" },
    h("h2", { id: "capas-title" }, t("product.capas")),
    capas.length === 0
      ? h("p", {}, t("product.noCapas"))
      : table({
          id: "capas",
          head: ["product.batch", "product.capa", "product.owner", "product.due", "product.state"],
          rows: capas.map((c) =>
            h(
              "tr",
              { "data-overdue": String(c.overdue), "data-status": c.status },
              h("th", { scope: "row" }, h("a", { href: `/batches/${c.batchId}` }, c.batchNumber)),
              h("td", {}, h("code", { title: c.capaHash }, c.capaHash.slice(0, 10))),
              h("td", {}, h("a", { href: `/organizations/${c.ownerId}` }, String(c.ownerId))),
              h("td", {}, formatTime(c.dueAt)),
              h(
                "td",
                {},
                c.overdue
                  ? h("strong", { class: "overdue" }, t("quality.overdue"))
                  : h("span", { class: c.status === "INEFFECTIVE" ? "overdue" : undefined }, t(`capa.${c.status}`)),
              ),
            ),
          ),
        }),
  );
}

showAnswer({
  badAddress: !productId,
  load: () => api(`/v1/products/${productId}/quality`),
  render: (p) => [summary(p), capasView(p.capas)],
});
