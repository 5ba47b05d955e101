// @ts-check
// One alert and its case: facts, the signed history, and the forms that sign a taking, a status change or a closure
// with the signed-in organization's key (the reason's text is kept by the API under the hash that is signed).
import { api, byId, facts, formatTime, h, pathId, session, startPage, t } from "./app.js";
import { afterSigning, field, keepingDrafts, signer, signingForm } from "./actions.js";
import { keptReason } from "./signing.js";
import { showAnswer, table } from "./view.js";

startPage("title.alert");
const alertId = pathId(/^\/alerts\/([1-9][0-9]{0,15})$/);
const outcome = h("div", { id: "outcome" });
byId("main", HTMLElement).insertBefore(outcome, byId("content", HTMLElement));
const signing = signer(outcome);

/** @param {any} answer */
function render(answer) {
  const { alert, case: c, history } = answer;
  const me = session();
  const mayTake =
    me && (me.role === "REGULATOR" || me.organizationId === alert.organizationId) && c.status !== "CLOSED" && c.ownerId !== me.organizationId;
  const owner = me && c.ownerId === me.organizationId && c.status !== "CLOSED";
  const reload = async () => location.reload();
  return /** @type {Node[]} */ (
    [
      facts([
        ["alerts.rule", `${alert.rule} (${alert.severity})`],
        ["alerts.message", alert.message],
        ["alerts.organization", alert.organizationId === null ? undefined : String(alert.organizationId)],
        ["alerts.case", t(`case.${c.status}`)],
        ["alerts.owner", c.ownerId === null ? t("alerts.nobody") : String(c.ownerId)],
        ["alerts.due", `${formatTime(c.dueAt)}${c.overdue ? ` · ${t("alerts.overdue")}` : ""}`],
        ["alerts.reason", c.reason ?? c.reasonHash ?? undefined],
        ["alerts.escalatedByEngine", c.escalatedAt === null ? undefined : formatTime(c.escalatedAt)],
      ]),
      h("h2", {}, t("alerts.history")),
      history.length === 0
        ? h("p", {}, t("alerts.historyEmpty"))
        : table({
            id: "history",
            head: ["alerts.when", "alerts.step", "alerts.by", "alerts.reason"],
            rows: history.map((/** @type {any} */ s) =>
              h(
                "tr",
                {},
                h("th", { scope: "row" }, formatTime(s.at)),
                h("td", {}, t(`case.${s.action}`)),
                h("td", {}, `${s.organizationId} ${s.organizationName ?? ""}`),
                h("td", {}, s.reason ?? s.reasonHash ?? ""),
              ),
            ),
          }),
      mayTake
        ? signingForm({
            id: "take",
            title: t("alerts.takeTitle"),
            intro: t("alerts.takeIntro"),
            fields: [],
            action: t("alerts.take"),
            submit: async () =>
              afterSigning(await signing.sign("AlertTaking", { alertKey: c.alertKey, subjectId: alert.organizationId }, "alerts.taken"), reload),
          })
        : undefined,
      owner
        ? signingForm({
            id: "status",
            title: t("alerts.statusTitle"),
            fields: [
              field({
                id: "status-to",
                label: t("alerts.statusField"),
                options: [
                  ["1", t("case.UNDER_INVESTIGATION")],
                  ["2", t("case.ESCALATED")],
                ],
              }),
              field({ id: "status-reason", label: t("alerts.reasonField"), required: false }),
            ],
            action: t("alerts.setStatus"),
            submit: async (values) => {
              const hash = await keptReason(values["status-reason"] ?? "");
              const result = await signing.sign(
                "AlertStatusChange",
                { caseKey: c.caseKey, status: Number(values["status-to"]), reasonHash: hash },
                "alerts.statusChanged",
              );
              await afterSigning(result, reload);
            },
          })
        : undefined,
      owner
        ? signingForm({
            id: "close",
            title: t("alerts.closeTitle"),
            fields: [field({ id: "close-reason", label: t("alerts.closeReason"), multiline: true })],
            action: t("alerts.close"),
            submit: async (values) => {
              const hash = await keptReason(values["close-reason"] ?? "");
              await afterSigning(
                await signing.sign("AlertStatusChange", { caseKey: c.caseKey, status: 3, reasonHash: hash }, "alerts.closed"),
                reload,
              );
            },
          })
        : c.status !== "CLOSED" && c.ownerId !== null
          ? h("p", { class: "hint" }, t("alerts.notOwner"))
          : undefined,
    ].filter((node) => node !== undefined)
  );
}

showAnswer({ badAddress: alertId === undefined, load: () => api(`/v1/alerts/${alertId}`), render });
keepingDrafts(byId("content", HTMLElement), () => signing.draw());
