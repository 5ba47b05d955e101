// @ts-check
// The batches the signed-in organization may read, each linking to its provenance.
import { expiryDate, h, recallText, startPage, t } from "./app.js";
import { showList } from "./view.js";

startPage("title.batches");
showList({
  path: "/v1/batches",
  id: "batches",
  emptyKey: "batches.empty",
  head: ["field.batch", "field.product", "field.expiry", "field.state", "field.recall"],
  cells: (batch) => [
    h("a", { href: `/batches/${batch.id}` }, batch.batchNumber),
    batch.product.name,
    expiryDate(batch.expiresAt),
    t(`state.${batch.state}`),
    batch.recall ? h("a", { href: `/recalls/${batch.id}` }, recallText(batch.recall)) : t("recall.none"),
  ],
});
