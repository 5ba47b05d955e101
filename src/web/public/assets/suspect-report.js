// @ts-check
// One suspect-product report; a regulator terminates it here, signing with the organization's key.
import { api, byId, facts, formatTime, h, pathId, session, startPage, t } from "./app.js";
import { afterSigning, field, keepingDrafts, signer, signingForm } from "./actions.js";
import { keptReason } from "./signing.js";
import { showAnswer } from "./view.js";

startPage("title.suspectReport");
const reportId = pathId(/^\/suspect-reports\/(0x[0-9a-fA-F]{64})$/);
const outcome = h("div", { id: "outcome" });
byId("main", HTMLElement).insertBefore(outcome, byId("content", HTMLElement));
const signing = signer(outcome);

/** @param {any} r */
function render(r) {
  const regulator = session()?.role === "REGULATOR";
  return /** @type {Node[]} */ (
    [
      facts([
        ["suspect.batch", h("a", { href: `/batches/${r.batchId}` }, r.batchNumber ?? r.batchId)],
        ["suspect.filedBy", `${r.filedBy} ${r.filedByName ?? ""}`],
        ["suspect.filedAt", formatTime(r.filedAt)],
        ["suspect.packs", r.packs.length === 0 ? t("suspect.wholeBatch") : r.packs.join(" ")],
        ["suspect.reason", r.reason ?? r.reasonHash],
        ["suspect.status", t(`suspect.${r.status}`)],
        ["suspect.outcome", t(`suspect.outcome.${r.outcome}`)],
        ["suspect.terminatedBy", r.terminatedBy === null ? undefined : String(r.terminatedBy)],
        ["suspect.terminatedAt", r.terminatedAt === null ? undefined : formatTime(r.terminatedAt)],
        ["suspect.terminationReason", r.terminationReason ?? r.terminationReasonHash ?? undefined],
      ]),
      r.status === "OPEN"
        ? signingForm({
            id: "terminate",
            title: t("suspect.terminateTitle"),
            intro: t("suspect.terminateIntro"),
            fields: [
              field({
                id: "terminate-outcome",
                label: t("suspect.outcomeField"),
                options: [
                  ["1", t("suspect.outcome.CLEARED")],
                  ["2", t("suspect.outcome.ILLEGITIMATE")],
                ],
              }),
              field({ id: "terminate-reason", label: t("suspect.terminationReason"), multiline: true }),
            ],
            action: t("suspect.terminate"),
            disabled: !regulator,
            disabledReason: regulator ? undefined : t("suspect.terminateIntro"),
            submit: async (values) => {
              const reasonHash = await keptReason(values["terminate-reason"] ?? "");
              const result = await signing.sign(
                "SuspectTermination",
                { reportId: r.id, outcome: Number(values["terminate-outcome"]), reasonHash },
                "suspect.terminated",
              );
              await afterSigning(result, async () => location.reload());
            },
          })
        : undefined,
    ].filter((node) => node !== undefined)
  );
}

showAnswer({ badAddress: reportId === undefined, load: () => api(`/v1/suspect-reports/${reportId}`), render });
keepingDrafts(byId("content", HTMLElement), () => signing.draw());
