// @ts-check
// A holder's stock: shipments on their way to it, each received by a signed receipt (the packs scanned or pasted,
// reconciled against the shipment's named cases and packs or checked against the batch's codes, or just counted), and what it holds, each batch linking to its actions.
import { api, ApiFailure, byId, expiryDate, formatTime, h, onLanguageChange, session, showFailure, signInRequired, startPage, t } from "./app.js";
import { afterSigning, codeLines, field, keepingDrafts, signer, signingForm } from "./actions.js";
import { table } from "./view.js";

const content = byId("content", HTMLElement);
const signing = signer(byId("outcome", HTMLElement));
/** @type {{ incoming: any[], holdings: any[] } | undefined} */
let stock;

startPage("title.stock");
onLanguageChange(() => {
  signing.draw();
  keepingDrafts(content, draw);
});
void load();

async function load() {
  const signedIn = session();
  if (!signedIn) return content.replaceChildren(signInRequired());
  try {
    const [incoming, inventory] = await Promise.all([
      api("/v1/shipments?direction=incoming&status=IN_TRANSIT"),
      api(`/v1/organizations/${signedIn.organizationId}/inventory`),
    ]);
    stock = { incoming: incoming.items, holdings: inventory.holdings };
  } catch (error) {
    return showFailure(content, error);
  }
  draw();
}

function draw() {
  if (!stock) return;
  content.replaceChildren(
    h(
      "section",
      { "aria-labelledby": "incoming-title" },
      h("h2", { id: "incoming-title" }, t("stock.incoming")),
      stock.incoming.length === 0 ? h("p", {}, t("stock.noIncoming")) : h("div", { id: "incoming" }, stock.incoming.map(receiveForm)),
    ),
    h(
      "section",
      { "aria-labelledby": "holdings-title" },
      h("h2", { id: "holdings-title" }, t("stock.holdings")),
      stock.holdings.length === 0
        ? h("p", {}, t("stock.noHoldings"))
        : table({
            id: "holdings",
            head: ["field.batch", "field.quantity", "field.expiry", "field.recall"],
            numeric: new Set(["field.quantity"]),
            rows: stock.holdings.map((holding) =>
              h(
                "tr",
                { "data-batch": holding.batchId },
                h("th", { scope: "row" }, h("a", { href: `/stock/${holding.batchId}` }, holding.batchNumber)),
                h("td", { class: "number" }, String(holding.quantity)),
                h("td", {}, expiryDate(holding.expiresAt)),
                h(
                  "td",
                  {},
                  holding.recallStatus === "OPEN" ? t(holding.recallAcknowledged ? "stock.recallAcknowledged" : "stock.recallToAcknowledge") : "—",
                ),
              ),
            ),
          }),
    ),
  );
}

/**
 * The packs received, from the codes scanned: reconciled against the shipment's named units where it has them (the
 * API records the differences), else each pack proven one of the batch's.
 * @param {any} shipment
 * @param {string[]} codes
 * @returns {Promise<{ received: number, missing?: number, unexpected?: number }>}
 */
async function countReceived(shipment, codes) {
  if (shipment.codesRoot) {
    try {
      const reconciled = await api(`/v1/shipments/${shipment.id}/reconciliation`, { method: "POST", body: { scanned: codes } });
      return { received: reconciled.receivedPacks, missing: reconciled.missing.length, unexpected: reconciled.unexpected.length };
    } catch (error) {
      // A root committed without naming its units: only the batch can be checked.
      if (!(error instanceof ApiFailure && error.code === "SHIPMENT_UNITS_NOT_NAMED")) throw error;
    }
  }
  await api(`/v1/batches/${shipment.batch.id}/pack-proofs`, { method: "POST", body: { codes } });
  return { received: codes.length };
}

/**
 * A shipment on its way here and its receipt. Scanned or pasted codes (cases or packs) of a shipment that named its
 * units are reconciled against the units hashing to its codes root: the API records each pack missing or unexpected
 * and the packs received are counted. Codes of any other shipment are checked against the batch's registered codes
 * and counted; without codes the quantity received is typed (less than shipped records a shortfall).
 * @param {any} shipment an item of GET /v1/shipments
 * @param {number} index
 */
function receiveForm(shipment, index) {
  const id = `receive-${index}`;
  return signingForm({
    id,
    title: t("stock.receiveTitle", { batch: shipment.batch.batchNumber, quantity: shipment.quantity, shipper: shipment.shipper.name }),
    intro: t("stock.shippedAt", { product: shipment.batch.productName, at: formatTime(shipment.shippedAt) }),
    fields: [
      field({ id: `${id}-codes`, label: t("stock.codes"), multiline: true, required: false, hint: t("stock.codesHint") }),
      field({
        id: `${id}-quantity`,
        label: t("stock.receivedQuantity"),
        type: "number",
        required: false,
        hint: t("stock.receivedHint", { quantity: shipment.quantity }),
        attributes: { min: 0, max: shipment.quantity, inputmode: "numeric" },
      }),
    ],
    action: t("stock.receiveSubmit"),
    submit: async (values) => {
      const codes = codeLines(values[`${id}-codes`] ?? "");
      /** @type {{ received: number, missing?: number, unexpected?: number } | undefined} */
      let counted;
      if (codes.length > 0) {
        try {
          counted = await countReceived(shipment, codes);
        } catch (error) {
          return void (await signing.refuse(error));
        }
      }
      const typed = values[`${id}-quantity`]?.trim();
      const received = counted ? counted.received : typed ? Number(typed) : shipment.quantity;
      const result = await signing.sign(
        "Receipt",
        {
          shipmentId: shipment.id,
          batchId: shipment.batch.id,
          shipperId: shipment.shipper.id,
          shippedQuantity: shipment.quantity,
          receivedQuantity: received,
        },
        counted?.missing === undefined ? "stock.received" : "stock.receivedReconciled",
        undefined,
        { received, shipped: shipment.quantity, missing: counted?.missing ?? 0, unexpected: counted?.unexpected ?? 0 },
      );
      await afterSigning(result, load);
    },
  });
}
