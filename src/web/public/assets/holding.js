// @ts-check
// What a holder does with its holding of one batch, each a signed attestation through the relay: ship part of it,
// dispense packs by their codes (proven part of the batch), destroy part of it, and, while the batch is recalled,
// acknowledge the recall with an account of the whole holding (quarantined, dispensed, destroyed, missing), and
// report packs or the whole batch as suspect.
import { api, byId, expiryDate, facts, h, onLanguageChange, pathId, recallText, session, showFailure, signInRequired, startPage, t } from "./app.js";
import { afterSigning, codeLines, field, keepingDrafts, signer, signingForm } from "./actions.js";
import { documentHash, keptReason } from "./signing.js";
import { PackState } from "/assets/ledger.js";

const batchId = pathId(/^\/stock\/(0x[0-9a-fA-F]{64})$/)?.toLowerCase();
const content = byId("content", HTMLElement);
const signing = signer(byId("outcome", HTMLElement));
/** @type {{ batch: any, holding: any } | undefined} */
let state;

startPage("title.holding");
onLanguageChange(() => {
  signing.draw();
  keepingDrafts(content, draw);
});
void load();

async function load() {
  const signedIn = session();
  if (!batchId) return showFailure(content, new Error(t("error.badAddress", { path: location.pathname })));
  if (!signedIn) return content.replaceChildren(signInRequired());
  try {
    const [batch, inventory] = await Promise.all([
      api(`/v1/batches/${batchId}`),
      api(`/v1/organizations/${signedIn.organizationId}/inventory?includeEmpty=true`),
    ]);
    const holding = inventory.holdings.find((/** @type {any} */ item) => item.batchId === batchId);
    state = { batch, holding: holding ?? { quantity: 0, recallStatus: batch.recall?.status ?? "NONE", recallAcknowledged: false } };
  } catch (error) {
    return showFailure(content, error);
  }
  draw();
}

function draw() {
  if (!state) return;
  const { batch, holding } = state;
  const recallOpen = batch.recall?.status === "OPEN";
  content.replaceChildren(
    facts([
      ["field.product", `${batch.product.name} (${batch.product.code})`],
      ["field.batch", h("a", { href: `/batches/${batch.id}` }, batch.batchNumber)],
      ["field.expiry", expiryDate(batch.expiresAt)],
      ["stock.held", h("span", { id: "held" }, String(holding.quantity))],
      ["field.recall", batch.recall ? h("a", { href: `/recalls/${batch.id}` }, recallText(batch.recall)) : t("recall.none")],
      ["field.hold", t(`hold.${batch.hold}`)],
    ]),
    ...(recallOpen && !holding.recallAcknowledged && holding.quantity > 0 ? [acknowledgeForm(holding.quantity)] : []),
    ...(recallOpen && holding.recallAcknowledged ? [h("p", { class: "alert alert--ok", id: "acknowledged" }, t("stock.recallAcknowledged"))] : []),
    shipForm(),
    dispenseForm(),
    destroyForm(),
    suspectForm(),
  );
}

const reload = (/** @type {unknown} */ result) => afterSigning(result, load);
const quantityAttributes = { min: 1, inputmode: "numeric" };

function shipForm() {
  return signingForm({
    id: "ship",
    title: t("stock.ship"),
    fields: [
      field({
        id: "recipient",
        label: t("stock.recipient"),
        type: "number",
        hint: t("stock.recipientHint"),
        attributes: { min: 1, inputmode: "numeric" },
      }),
      field({ id: "ship-quantity", label: t("field.quantity"), type: "number", attributes: quantityAttributes }),
    ],
    action: t("stock.shipSubmit"),
    submit: async (values) => {
      const quantity = Number(values["ship-quantity"]);
      const result = await signing.sign(
        "Shipment",
        { batchId, recipientId: Number(values.recipient), quantity, codesRoot: `0x${"0".repeat(64)}` },
        "stock.shipped",
        undefined,
        { quantity },
      );
      await reload(result);
    },
  });
}

function dispenseForm() {
  return signingForm({
    id: "dispense",
    title: t("stock.dispense"),
    intro: t("stock.dispenseIntro"),
    fields: [field({ id: "dispense-codes", label: t("stock.codes"), multiline: true, hint: t("stock.codesHint") })],
    action: t("stock.dispenseSubmit"),
    submit: async (values) => {
      const codes = codeLines(values["dispense-codes"] ?? "");
      let proved;
      try {
        proved = await api(`/v1/batches/${batchId}/pack-proofs`, { method: "POST", body: { codes } });
      } catch (error) {
        return signing.refuse(error);
      }
      const result = await signing.sign(
        "Dispensing",
        { batchId, packs: proved.packs },
        "stock.dispensed",
        { proof: proved.proof, proofFlags: proved.proofFlags },
        { count: codes.length },
      );
      await reload(result);
    },
  });
}

function destroyForm() {
  return signingForm({
    id: "destroy",
    title: t("stock.destroy"),
    fields: [
      field({ id: "destroy-quantity", label: t("field.quantity"), type: "number", attributes: quantityAttributes }),
      field({ id: "destroy-reason", label: t("stock.destroyReason"), hint: t("document.hint") }),
    ],
    action: t("stock.destroySubmit"),
    submit: async (values) => {
      const quantity = Number(values["destroy-quantity"]);
      const result = await signing.sign(
        "Destruction",
        { batchId, quantity, reasonHash: documentHash(values["destroy-reason"] ?? "") },
        "stock.destroyed",
        undefined,
        { quantity },
      );
      await reload(result);
    },
  });
}

/**
 * A suspect-product report (like the DSCSA illegitimate-product notification): the packs scanned are locked and
 * reported in one relayed request, whole or nothing, because the ledger takes a report of packs only once they are
 * locked; no codes reports the whole batch. The MAH and the regulators of every province involved hear of it, and
 * only a regulator ends it.
 */
function suspectForm() {
  return signingForm({
    id: "suspect",
    title: t("suspect.fileTitle"),
    intro: t("suspect.fileIntro"),
    fields: [
      field({ id: "suspect-codes", label: t("suspect.codes"), multiline: true, required: false, hint: t("suspect.codesHint") }),
      field({ id: "suspect-reason", label: t("suspect.reason"), multiline: true }),
    ],
    action: t("suspect.fileSubmit"),
    submit: async (values) => {
      const codes = codeLines(values["suspect-codes"] ?? "");
      let proved = { packs: [], proof: [], proofFlags: [] };
      try {
        if (codes.length > 0) proved = await api(`/v1/batches/${batchId}/pack-proofs`, { method: "POST", body: { codes } });
      } catch (error) {
        return signing.refuse(error);
      }
      const reasonHash = await keptReason(values["suspect-reason"] ?? "");
      const proof = { proof: proved.proof, proofFlags: proved.proofFlags };
      const report = { type: "SuspectReport", fields: { batchId, packs: proved.packs, reasonHash }, extra: proof };
      const lock = { type: "PackStateChange", fields: { batchId, state: PackState.Locked, packs: proved.packs, reasonHash }, extra: proof };
      const steps = codes.length > 0 ? [lock, report] : [report];
      const done = codes.length > 0 ? "suspect.filedPacks" : "suspect.filedBatch";
      await reload(await signing.signTogether(steps, done, { count: proved.packs.length }));
    },
  });
}

const ACCOUNT = /** @type {const} */ (["quarantined", "dispensed", "destroyed", "missing"]);

/**
 * The recall acknowledgement: the whole holding accounted for, the running total shown as it is typed, because
 * the contract refuses an account that does not add up to what the ledger says is held.
 * @param {number} held
 */
function acknowledgeForm(held) {
  const total = h("p", { id: "ack-total", "aria-live": "polite" });
  const form = signingForm({
    id: "acknowledge",
    title: t("stock.acknowledge"),
    intro: t("stock.acknowledgeIntro", { held }),
    fields: [
      ...ACCOUNT.map((name) =>
        field({
          id: `ack-${name}`,
          label: t(`recall.${name}`),
          type: "number",
          attributes: { min: 0, inputmode: "numeric", value: name === "quarantined" ? held : 0 },
        }),
      ),
      total,
    ],
    action: t("stock.acknowledgeSubmit"),
    submit: async (values) => {
      const account = Object.fromEntries(ACCOUNT.map((name) => [`${name}Quantity`, Number(values[`ack-${name}`] || 0)]));
      await reload(await signing.sign("RecallAcknowledgement", { batchId, ...account }, "stock.acknowledged"));
    },
  });
  const update = () => {
    const sum = ACCOUNT.reduce(
      (accounted, name) => accounted + Number(/** @type {HTMLInputElement} */ (form.querySelector(`#ack-${name}`)).value || 0),
      0,
    );
    total.textContent = t(sum === held ? "stock.accountAddsUp" : "stock.accountShort", { accounted: sum, held });
    total.className = sum === held ? "" : "overdue";
  };
  form.addEventListener("input", update);
  update();
  return form;
}
