// @ts-check
// A recall's reconciliation: every holder, what it holds and quarantined, the level's deadline and who is late.
import { api, facts, formatTime, h, organizationLink, pathId, startPage, t } from "./app.js";
import { showAnswer, table } from "./view.js";

const batchId = pathId(/^\/recalls\/(0x[0-9a-fA-F]{64})$/)?.toLowerCase();

startPage("title.recall");
showAnswer({ badAddress: !batchId, load: () => api(`/v1/recalls/${batchId}`), render: reconciliation });

/** @param {any} recall the API's answer to GET /v1/recalls/:batchId */
function reconciliation(recall) {
  // The API's clock decides who is late; the browser's clock only adds "passed" while nobody is listed late yet.
  const overdue = recall.status === "OPEN" && (recall.holders.some((/** @type {{ late: boolean }} */ holder) => holder.late) || (recall.totals.outstanding > 0 && Date.now() / 1000 > recall.acknowledgeBy));
  return [
    h("h2", {}, `${t("field.batch")} ${recall.batchNumber}`),
    facts([
      ["recall.level", t(`recall.levelName.${recall.level}`)],
      ["recall.status", t(`recall.status.${recall.status}`)],
      ["recall.startedAt", formatTime(recall.startedAt)],
      ["recall.deadline", h("span", { class: overdue ? "overdue" : undefined, id: "deadline" }, formatTime(recall.acknowledgeBy), overdue ? ` (${t("recall.overdue")})` : "")],
      ["field.batch", h("a", { href: `/batches/${recall.batchId}` }, t("recall.openBatch"))],
    ]),
    h("h2", {}, t("recall.totals")),
    facts([
      ["recall.totalHeld", String(recall.totals.held)],
      ["recall.totalQuarantined", String(recall.totals.quarantined)],
      ["recall.totalOutstanding", String(recall.totals.outstanding)],
      ["recall.totalInTransit", String(recall.totals.inTransit)],
    ]),
    h("h2", {}, t("recall.holders")),
    holdersTable(recall.holders),
  ];
}

/** @param {any[]} holders */
function holdersTable(holders) {
  return table({
    id: "holders",
    head: ["recall.organization", "recall.held", "recall.acknowledged", "recall.quarantined", "recall.acknowledgedAt", "recall.late"],
    numeric: new Set(["recall.held", "recall.quarantined"]),
    rows: holders.map((holder) =>
      h(
        "tr",
        { "data-organization": holder.organization.id, class: holder.late ? "late" : undefined },
        h("th", { scope: "row" }, organizationLink(holder.organization)),
        h("td", { class: "number" }, String(holder.quantityHeld)),
        h("td", {}, holder.acknowledged ? t("recall.yes") : t("recall.no")),
        h("td", { class: "number" }, holder.quarantinedQuantity === null ? "—" : String(holder.quarantinedQuantity)),
        h("td", {}, formatTime(holder.acknowledgedAt)),
        h("td", {}, holder.late ? h("strong", { class: "late" }, t("recall.late")) : holder.acknowledged ? t("recall.onTime") : t("recall.pending")),
      ),
    ),
  });
}
