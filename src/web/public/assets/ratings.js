// @ts-check
// Regulators: every supervised organization's risk rating, what contributes to it, and how often to inspect it.
import { api, h, organizationLink, startPage, t } from "./app.js";
import { showAnswer, table } from "./view.js";

startPage("title.ratings");
showAnswer({
  load: async () => /** @type {any[]} */ ((await api("/v1/risk-ratings")).ratings),
  render: (ratings) =>
    table({
      id: "ratings",
      head: ["field.organization", "rating.level", "rating.score", "rating.frequency", "rating.contributions", "enterprise.file"],
      numeric: new Set(["rating.score"]),
      rows: ratings.map((r) =>
        h(
          "tr",
          {},
          h("th", { scope: "row" }, organizationLink({ id: r.organizationId, name: r.name })),
          h("td", {}, h("span", { class: `rating rating--${r.rating}` }, t(`rating.${r.rating}`))),
          h("td", { class: "number" }, String(r.score)),
          h("td", {}, t("rating.perYear", { count: r.inspectionsPerYear })),
          h(
            "td",
            {},
            r.contributions
              .filter((/** @type {any} */ c) => c.points !== 0)
              .map((/** @type {any} */ c) => `${t(`rating.source.${c.source}`)} +${c.points}`)
              .join(", ") || "—",
          ),
          h("td", {}, h("a", { href: `/organizations/${r.organizationId}/file` }, t("enterprise.open"))),
        ),
      ),
    }),
});
