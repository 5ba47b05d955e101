// @ts-check
// The recalls the signed-in organization may read, each linking to its reconciliation.
import { formatTime, h, startPage, t } from "./app.js";
import { showList } from "./view.js";

startPage("title.recalls");
showList({
  path: "/v1/recalls",
  id: "recalls",
  emptyKey: "recalls.empty",
  head: ["field.batch", "recall.level", "recall.status", "recall.startedAt", "recall.deadline"],
  cells: (recall) => [
    h("a", { href: `/recalls/${recall.batchId}` }, recall.batchNumber),
    t(`recall.levelName.${recall.level}`),
    t(`recall.status.${recall.status}`),
    formatTime(recall.startedAt),
    formatTime(recall.acknowledgeBy),
  ],
});
