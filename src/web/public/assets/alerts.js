// @ts-check
// The alerts the signed-in organization may see (regulators: all), each with its case's status, owner and due date.
import { api, formatTime, h, startPage, t } from "./app.js";
import { showAnswer, table } from "./view.js";

/** @param {any} alert */
export function caseText(alert) {
  const c = alert.case;
  const escalated = c.escalatedAt !== null && c.status !== "CLOSED" ? ` · ${t("alerts.escalatedByEngine", { time: formatTime(c.escalatedAt) })}` : "";
  return `${t(`case.${c.status}`)}${c.overdue && !escalated ? ` · ${t("alerts.overdue")}` : escalated}`;
}

startPage("title.alerts");
showAnswer({
  load: async () => /** @type {any[]} */ ((await api("/v1/alerts?limit=100")).alerts),
  render: (alerts) =>
    alerts.length === 0
      ? h("p", {}, t("alerts.empty"))
      : table({
          id: "alerts",
          head: [
            "alerts.rule",
            "alerts.severity",
            "alerts.state",
            "alerts.organization",
            "alerts.case",
            "alerts.owner",
            "alerts.due",
            "alerts.message",
          ],
          rows: alerts.map((alert) =>
            h(
              "tr",
              { "data-alert": String(alert.id) },
              h("th", { scope: "row" }, h("a", { href: `/alerts/${alert.id}` }, `${alert.id} ${alert.rule}`)),
              h("td", {}, alert.severity),
              h("td", {}, alert.status),
              h(
                "td",
                {},
                alert.organizationId === null ? "" : h("a", { href: `/organizations/${alert.organizationId}` }, String(alert.organizationId)),
              ),
              h("td", { class: "case" }, caseText(alert)),
              h("td", {}, alert.case.ownerId === null ? t("alerts.nobody") : String(alert.case.ownerId)),
              h("td", {}, formatTime(alert.case.dueAt)),
              h("td", {}, alert.message),
            ),
          ),
        }),
});
