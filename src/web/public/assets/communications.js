// @ts-check
// A quality agreement's communication log: the channels and response time its MAH recorded and its CMO
// countersigned, and every notice between the parties with its acknowledgement; the overdue ones marked.
import { api, facts, formatTime, h, pathId, startPage, t } from "./app.js";
import { showAnswer, table } from "./view.js";

startPage("title.communications");
const agreementId = pathId(/^\/agreements\/(0x[0-9a-fA-F]{64})\/communications$/)?.toLowerCase();

/** @param {number} id */
const organization = (id) => h("a", { href: `/organizations/${id}` }, t("comms.organization", { id }));

/** @param {any} terms the agreed terms, or null */
function termsView(terms) {
  return h(
    "section",
    { "aria-labelledby": "terms-title", id: "terms" },
    h("h2", { id: "terms-title" }, t("comms.terms")),
    terms === null
      ? h("p", {}, t("comms.noTerms"))
      : facts([
          ["comms.channels", terms.channels.map((/** @type {string} */ c) => t(`channel.${c}`)).join("、")],
          ["comms.response", t("comms.hours", { hours: Math.round(terms.responseSeconds / 3600) })],
          ["comms.recordedBy", h("span", {}, organization(terms.recordedBy), ` · ${formatTime(terms.recordedAt)}`)],
          [
            "comms.countersignedBy",
            terms.countersignedBy === null
              ? h("span", { class: "overdue", id: "countersignature" }, t("comms.awaitingCountersignature"))
              : h("span", { id: "countersignature" }, organization(terms.countersignedBy), ` · ${formatTime(terms.countersignedAt)}`),
          ],
        ]),
  );
}

/** @param {any} n a notice */
function acknowledgement(n) {
  if (n.acknowledgedAt !== null) return t("comms.acknowledgedAt", { at: formatTime(n.acknowledgedAt) });
  return n.overdue ? h("strong", { class: "overdue" }, t("comms.overdue")) : t("comms.open");
}

/** @param {any[]} notices */
function noticesView(notices) {
  return h(
    "section",
    { "aria-labelledby": "notices-title" },
    h("h2", { id: "notices-title" }, t("comms.notices")),
    notices.length === 0
      ? h("p", {}, t("comms.noNotices"))
      : table({
          id: "notices",
          head: ["comms.kind", "comms.from", "comms.channel", "comms.sent", "comms.due", "comms.acknowledged"],
          rows: notices.map((n) =>
            h(
              "tr",
              { "data-notice": n.id, "data-overdue": String(n.overdue) },
              h("th", { scope: "row" }, t(`noticeKind.${n.kind}`)),
              h("td", {}, organization(n.senderId), " → ", organization(n.recipientId)),
              h("td", {}, t(`channel.${n.channel}`)),
              h("td", {}, formatTime(n.sentAt)),
              h("td", {}, formatTime(n.dueAt)),
              h("td", {}, acknowledgement(n)),
            ),
          ),
        }),
  );
}

showAnswer({
  badAddress: !agreementId,
  load: () => api(`/v1/agreements/${agreementId}/communications`),
  render: (log) => [termsView(log.terms), noticesView(log.notices)],
});
