// @ts-check
// A recall's reconciliation: every holder's account of its holding (quarantined, already dispensed, destroyed,
// missing), where every unit of the batch is and how many are still unexplained, the level's deadline and who is late.
import { api, facts, formatTime, h, organizationLink, pathId, startPage, t } from "./app.js";
import { showAnswer, table } from "./view.js";

const batchId = pathId(/^\/recalls\/(0x[0-9a-fA-F]{64})$/)?.toLowerCase();

startPage("title.recall");
showAnswer({ badAddress: !batchId, load: () => api(`/v1/recalls/${batchId}`), render: reconciliation });

/** @param {any} recall the API's answer to GET /v1/recalls/:batchId */
function reconciliation(recall) {
  // The API's clock decides who is late; the browser's clock only adds "passed" while nobody is listed late yet.
  const overdue =
    recall.status === "OPEN" &&
    (recall.holders.some((/** @type {{ late: boolean }} */ holder) => holder.late) ||
      (recall.totals.outstanding > 0 && Date.now() / 1000 > recall.acknowledgeBy));
  return [
    h("h2", {}, `${t("field.batch")} ${recall.batchNumber}`),
    facts([
      ["recall.level", t(`recall.levelName.${recall.level}`)],
      ["recall.status", t(`recall.status.${recall.status}`)],
      ["recall.startedAt", formatTime(recall.startedAt)],
      [
        "recall.deadline",
        h(
          "span",
          { class: overdue ? "overdue" : undefined, id: "deadline" },
          formatTime(recall.acknowledgeBy),
          overdue ? ` (${t("recall.overdue")})` : "",
        ),
      ],
      ["field.batch", h("a", { href: `/batches/${recall.batchId}` }, t("recall.openBatch"))],
    ]),
    h("h2", {}, t("recall.totals")),
    reconciled(recall.totals),
    facts(
      ["made", "quarantined", "outstanding", "inTransit", "dispensed", "destroyed", "missing", "unexplained"].map((name) => [
        `recall.total.${name}`,
        h("span", { id: `total-${name}` }, String(recall.totals[name])),
      ]),
    ),
    h("h2", {}, t("recall.holders")),
    holdersTable(recall.holders),
  ];
}

/**
 * Whether every unit is accounted for: the recall can close only when nothing is held unacknowledged or in transit.
 * @param {{ unexplained: number, missing: number }} totals
 */
function reconciled(totals) {
  const open = totals.unexplained > 0;
  return h(
    "p",
    { id: "reconciliation", class: open || totals.missing > 0 ? "overdue" : undefined },
    open ? t("recall.unexplained", { count: totals.unexplained }) : t("recall.accountedFor"),
    totals.missing > 0 ? ` ${t("recall.missingNote", { count: totals.missing })}` : "",
  );
}

/** @param {number | null} quantity */
const quantityCell = (quantity) => h("td", { class: "number" }, quantity === null ? "—" : String(quantity));

/** @param {any[]} holders */
function holdersTable(holders) {
  const quantities = ["recall.held", "recall.quarantined", "recall.dispensed", "recall.destroyed", "recall.missing"];
  return table({
    id: "holders",
    head: ["recall.organization", "recall.held", "recall.acknowledged", ...quantities.slice(1), "recall.acknowledgedAt", "recall.late"],
    numeric: new Set(quantities),
    rows: holders.map((holder) =>
      h(
        "tr",
        { "data-organization": holder.organization.id, class: holder.late ? "late" : holder.missingQuantity > 0 ? "shortfall" : undefined },
        h("th", { scope: "row" }, organizationLink(holder.organization)),
        h("td", { class: "number" }, String(holder.quantityHeld)),
        h("td", {}, holder.acknowledged ? t("recall.yes") : t("recall.no")),
        quantityCell(holder.quarantinedQuantity),
        quantityCell(holder.dispensedQuantity),
        quantityCell(holder.destroyedQuantity),
        quantityCell(holder.missingQuantity),
        h("td", {}, formatTime(holder.acknowledgedAt)),
        h("td", {}, holder.late ? h("strong", { class: "late" }, t("recall.late")) : holder.acknowledged ? t("recall.onTime") : t("recall.pending")),
      ),
    ),
  });
}
