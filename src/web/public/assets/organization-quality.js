// @ts-check
// An organization's quality overview: its products (held, made or tested under an agreement) with risk class,
// shortage listing, QPs, last quarterly review and open or overdue CAPAs, and its quality agreements' communication
// logs (countersigned or not, notices awaiting acknowledgement, the overdue ones counted).
import { api, h, pathId, startPage, t } from "./app.js";
import { showAnswer, table } from "./view.js";

startPage("title.organizationQuality");
const organizationId = pathId(/^\/organizations\/([1-9][0-9]{0,9})\/quality$/);

/** @param {number} count @param {number} overdue */
const counted = (count, overdue) =>
  overdue > 0 ? h("strong", { class: "overdue" }, t("orgQuality.overdueCount", { count, overdue })) : String(count);

/** @param {any[]} products */
function productsView(products) {
  return h(
    "section",
    { "aria-labelledby": "products-title" },
    h("h2", { id: "products-title" }, t("orgQuality.products")),
    products.length === 0
      ? h("p", {}, t("orgQuality.noProducts"))
      : table({
          id: "quality-products",
          head: [
            "product.summary",
            "quality.riskClass",
            "product.shortage",
            "personRole.QUALIFIED_PERSON",
            "orgQuality.lastReview",
            "orgQuality.openCapas",
          ],
          rows: products.map((p) =>
            h(
              "tr",
              { "data-product": p.productId },
              h("th", { scope: "row" }, h("a", { href: `/products/${p.productId}/quality` }, p.productName)),
              h("td", {}, t(`riskClass.${p.riskClass ?? "NONE"}`)),
              h("td", {}, p.shortageListed ? t("product.shortageListed") : t("product.notShortage")),
              h("td", {}, p.qualifiedPersons.join("、") || t("duties.none")),
              h(
                "td",
                {},
                p.lastReview ? `${p.lastReview.year}Q${p.lastReview.quarter} ${t(`riskLevel.${p.lastReview.riskLevel}`)}` : t("duties.none"),
              ),
              h("td", {}, counted(p.openCapas, p.overdueCapas)),
            ),
          ),
        }),
  );
}

/** @param {any[]} agreements */
function agreementsView(agreements) {
  return h(
    "section",
    { "aria-labelledby": "agreements-title" },
    h("h2", { id: "agreements-title" }, t("orgQuality.agreements")),
    agreements.length === 0
      ? h("p", {}, t("orgQuality.noAgreements"))
      : table({
          id: "quality-agreements",
          head: ["orgQuality.agreement", "orgQuality.parties", "comms.countersignedBy", "orgQuality.openNotices"],
          rows: agreements.map((a) =>
            h(
              "tr",
              { "data-agreement": a.agreementId },
              h("th", { scope: "row" }, h("a", { href: `/agreements/${a.agreementId}/communications` }, a.agreementId.slice(0, 10))),
              h("td", {}, `${a.mahId} · ${a.counterpartyId}`),
              h("td", {}, a.countersigned ? t("orgQuality.countersigned") : h("span", { class: "overdue" }, t("comms.awaitingCountersignature"))),
              h("td", {}, counted(a.openNotices, a.overdueNotices)),
            ),
          ),
        }),
  );
}

showAnswer({
  badAddress: !organizationId,
  load: () => api(`/v1/organizations/${organizationId}/quality`),
  render: (overview) => [productsView(overview.products), agreementsView(overview.agreements)],
});
