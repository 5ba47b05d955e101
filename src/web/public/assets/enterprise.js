// @ts-check
// One file per enterprise (一企一档), for regulators and the organization itself: its licence and its records,
// the agreements it is party to with their cross-province review, the inspections of it and the provinces that
// recognise each, samplings, its batches, the alerts about it, and its risk rating with what contributes to it.
import { api, byId, expiryDate, facts, formatTime, h, organizationLink, pathId, roleName, session, shortHash, startPage, t } from "./app.js";
import { signer } from "./actions.js";
import { regulatorForms } from "./regulator-forms.js";
import { table } from "./view.js";
import { showAnswer } from "./view.js";

const organizationId = pathId(/^\/organizations\/([1-9][0-9]{0,9})\/file$/);

startPage("title.enterprise");
const outcome = h("div", { id: "outcome" });
byId("main", HTMLElement).insertBefore(outcome, byId("content", HTMLElement));
const signing = signer(outcome);
const me = session();

showAnswer({
  badAddress: !organizationId,
  load: () => api(`/v1/organizations/${organizationId}/file`),
  render: (file) => [
    h("h2", { id: "enterprise-name" }, organizationLink(file.organization)),
    facts([
      ["field.role", roleName(file.organization.role)],
      ["field.region", String(file.organization.region)],
      ["field.status", t(`organizationStatus.${file.organization.status}`)],
    ]),
    section("enterprise.licence", licence(file.organization.licence)),
    section("enterprise.rating", rating(file.rating, file.ratingHistory)),
    section("enterprise.agreements", agreements(file.agreements)),
    section("enterprise.inspections", inspections(file.inspections)),
    section("enterprise.samplings", samplings(file.samplings)),
    section("enterprise.batches", batches(file.batches)),
    section("enterprise.alerts", alerts(file.alerts)),
    ...(me?.role === "REGULATOR" ? regulatorForms(file, me, signing, async () => location.reload()) : []),
  ],
});

/**
 * @param {string} key
 * @param {Node} body
 */
function section(key, body) {
  return h("section", { "aria-labelledby": key.replace(".", "-") }, h("h3", { id: key.replace(".", "-") }, t(key)), body);
}

/** @type {(rows: any[], render: (rows: any[]) => Node, empty: () => Node) => Node} */
const orEmpty = (rows, row, empty) => (rows.length === 0 ? empty() : row(rows));
const none = () => h("p", {}, t("enterprise.none"));

/** @param {any} licence */
function licence(licence) {
  return h(
    "div",
    { id: "licence" },
    facts([
      [
        "enterprise.licenceState",
        h("span", { id: "licence-state", class: `licence licence--${licence.state}` }, t(`licence.state.${licence.state}`)),
      ],
      ["enterprise.licenceValidUntil", licence.validUntil === null ? "—" : expiryDate(licence.validUntil)],
      ["enterprise.licenceHash", h("code", {}, shortHash(licence.hash))],
    ]),
    licence.history.length === 0
      ? h("p", {}, t("enterprise.noLicenceRecords"))
      : table({
          id: "licence-history",
          head: ["enterprise.recordedAt", "enterprise.licenceValidUntil", "enterprise.by"],
          rows: licence.history.map((/** @type {any} */ r) =>
            h(
              "tr",
              {},
              h("td", {}, formatTime(r.recordedAt)),
              h("td", {}, expiryDate(r.validUntil)),
              h("td", {}, organizationLink({ id: r.regulatorId, name: `#${r.regulatorId}` })),
            ),
          ),
        }),
  );
}

/** @param {any} current @param {any[]} history */
function rating(current, history) {
  if (!current) return h("p", {}, t("enterprise.notRated"));
  return h(
    "div",
    { id: "rating" },
    facts([
      ["rating.level", h("span", { id: "rating-level", class: `rating rating--${current.rating}` }, t(`rating.${current.rating}`))],
      ["rating.score", String(current.score)],
      ["rating.frequency", t("rating.perYear", { count: current.inspectionsPerYear })],
    ]),
    contributions("rating-contributions", current.contributions),
    history.length === 0
      ? h("p", {}, t("enterprise.noRatingHistory"))
      : table({
          id: "rating-history",
          head: ["enterprise.ratedAt", "rating.level", "rating.score", "rating.frequency", "rating.contributions"],
          rows: history.map((/** @type {any} */ r) =>
            h(
              "tr",
              {},
              h("td", {}, formatTime(r.ratedAt)),
              h("td", {}, t(`rating.${r.rating}`)),
              h("td", { class: "number" }, String(r.score)),
              h("td", {}, t("rating.perYear", { count: r.inspectionsPerYear })),
              h("td", {}, contributionText(r.contributions)),
            ),
          ),
        }),
  );
}

/** @param {string} id @param {any[]} list */
export function contributions(id, list) {
  return table({
    id,
    head: ["rating.source", "rating.points", "rating.detail"],
    numeric: new Set(["rating.points"]),
    rows: list.map((c) =>
      h("tr", {}, h("th", { scope: "row" }, t(`rating.source.${c.source}`)), h("td", { class: "number" }, String(c.points)), h("td", {}, c.detail)),
    ),
  });
}

/** @param {any[]} list */
function contributionText(list) {
  return list
    .filter((c) => c.points !== 0)
    .map((c) => `${t(`rating.source.${c.source}`)} +${c.points}`)
    .join(", ");
}

/** @param {any[]} list */
function agreements(list) {
  return orEmpty(
    list,
    (rows) =>
      table({
        id: "agreements",
        head: [
          "enterprise.agreement",
          "enterprise.kind",
          "enterprise.mah",
          "enterprise.counterparty",
          "enterprise.validUntil",
          "enterprise.approval",
        ],
        rows: rows.map((/** @type {any} */ a) =>
          h(
            "tr",
            {},
            h("th", { scope: "row" }, h("code", {}, shortHash(a.id))),
            h("td", {}, t(`agreement.kind.${a.kind}`)),
            h("td", {}, organizationLink(a.mah)),
            h("td", {}, organizationLink(a.counterparty)),
            h("td", {}, expiryDate(a.validUntil)),
            h("td", { class: `approval approval--${a.approval}` }, a.revoked ? t("enterprise.revoked") : t(`agreement.approval.${a.approval}`)),
          ),
        ),
      }),
    none,
  );
}

/** @param {any[]} list */
function inspections(list) {
  return orEmpty(
    list,
    (rows) =>
      table({
        id: "inspections",
        head: [
          "enterprise.inspectedAt",
          "enterprise.site",
          "enterprise.scope",
          "enterprise.findings",
          "enterprise.grade",
          "enterprise.inspectedBy",
          "enterprise.recognisedBy",
        ],
        rows: rows.map((/** @type {any} */ i) =>
          h(
            "tr",
            {},
            h("th", { scope: "row" }, formatTime(i.inspectedAt)),
            h("td", {}, i.site),
            h("td", {}, t(`inspection.scope.${i.scope}`)),
            h("td", {}, t("inspection.findings", i.findings)),
            h("td", {}, t(`inspection.grade.${i.grade}`)),
            h("td", {}, organizationLink(i.regulator)),
            h(
              "td",
              {},
              i.recognisedBy.length === 0
                ? "—"
                : i.recognisedBy.map((/** @type {any} */ r) => t("inspection.province", { province: r.province })).join(", "),
            ),
          ),
        ),
      }),
    none,
  );
}

/** @param {any[]} list */
function samplings(list) {
  return orEmpty(
    list,
    (rows) =>
      table({
        id: "samplings",
        head: ["enterprise.recordedAt", "field.batch", "enterprise.sampledAt", "enterprise.test", "enterprise.result"],
        rows: rows.map((/** @type {any} */ s) =>
          h(
            "tr",
            {},
            h("th", { scope: "row" }, formatTime(s.recordedAt)),
            h("td", {}, h("a", { href: `/batches/${s.batchId}` }, s.batchNumber)),
            h("td", {}, organizationLink(s.sampledAt)),
            h("td", {}, s.test),
            h("td", { class: s.passed ? "mark mark--ok" : "mark mark--bad" }, t(s.passed ? "sampling.passed" : "sampling.failed")),
          ),
        ),
      }),
    none,
  );
}

/** @param {any[]} list */
function batches(list) {
  return orEmpty(
    list,
    (rows) =>
      table({
        id: "enterprise-batches",
        head: ["field.batch", "field.role", "enterprise.state", "enterprise.recordedAt"],
        rows: rows.map((/** @type {any} */ b) =>
          h(
            "tr",
            {},
            h("th", { scope: "row" }, h("a", { href: `/batches/${b.id}` }, b.batchNumber)),
            h("td", {}, roleName(b.role)),
            h("td", {}, t(`state.${b.state}`)),
            h("td", {}, formatTime(b.recordedAt)),
          ),
        ),
      }),
    none,
  );
}

/** @param {any[]} list */
function alerts(list) {
  return orEmpty(
    list,
    (rows) =>
      table({
        id: "enterprise-alerts",
        head: ["enterprise.observedAt", "enterprise.alert", "enterprise.severity", "field.status"],
        rows: rows.map((/** @type {any} */ a) =>
          h("tr", {}, h("th", { scope: "row" }, formatTime(a.observedAt)), h("td", {}, a.message), h("td", {}, a.severity), h("td", {}, a.status)),
        ),
      }),
    none,
  );
}
