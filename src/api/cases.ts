import { existsSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { aggregate, aggregationTree, buildCodeTree, CodeError, MAX_CODE_LENGTH, packId, parseCode } from "../codes";
import type { Aggregate, AggregationTree, TraceCode } from "../codes";
import {
  badInput,
  conflict,
  describeExpiry,
  judgePack,
  LedgerError,
  notAllowed,
  notFound,
  refused,
  unauthenticated,
  UNREGISTERED_CONTAINER,
} from "../ledger";
import type { Judgement } from "../ledger";
import type { Store } from "../store";
import { caseReads } from "../store/case-reads";
import { scanReads } from "../store/scan-reads";
import type { BatchRow } from "../store/queries";
import { checkBatchAccess } from "./access";
import { findBatch } from "./batches";
import type { ApiServices, Caller } from "./context";
import { bytes32 } from "./schemas";
import { defineRoute } from "./routes";
import { findShipment, mayReadShipment } from "./shipments";

const codeText = z.string().min(1).max(MAX_CODE_LENGTH);

/** What a scan of an SSCC answers besides the batch's verdict: the case or pallet and what is inside it now. */
export const containerView = z.object({
  sscc: z.string(),
  kind: z.enum(["case", "pallet"]).meta({ description: "a pallet contains cases; a case contains packs" }),
  batchId: z.string(),
  parent: z.string().nullable().meta({ description: "the pallet the case is still on, if any" }),
  units: z.number().int().meta({ description: "units (packs, or cases of a pallet) directly inside it now" }),
  packs: z.number().int().meta({ description: "packs inside it now, through its cases for a pallet" }),
  unpacked: z.number().int().meta({ description: "units taken out of it since it was packed (disaggregation at picking)" }),
  proof: z
    .object({ containerId: z.string(), unitId: z.string(), root: z.string(), proof: z.array(z.string()) })
    .optional()
    .meta({ description: "proof that a unit still inside it belongs to the batch's committed aggregation: AggregationLedger.isUnitInContainer" }),
});
type ContainerView = z.input<typeof containerView>;

const reconciliationView = z.object({
  shipmentId: z.string(),
  shippedQuantity: z.number().int().meta({ description: "packs the shipment moved on the ledger" }),
  expectedPacks: z.number().int().meta({ description: "packs inside the units the shipment named, as they are now" }),
  receivedPacks: z.number().int().meta({ description: "expected packs found in the scanned cases and packs: the receipt's received quantity" }),
  missing: z.array(z.object({ code: z.string(), container: z.string().nullable() })).meta({ description: "expected packs not scanned" }),
  unexpected: z
    .array(z.object({ code: z.string(), container: z.string().nullable() }))
    .meta({ description: "scanned packs the shipment did not name" }),
  recordedBy: z.number().int(),
  recordedAt: z.number().int(),
});

// ----- the aggregation tree of a batch, rebuilt from its registered pairs and kept for proofs -----

const TREES_KEPT = 16;
const treesByStore = new WeakMap<Store, Map<string, AggregationTree>>();

/** The batch's registered cases and pallets, each with the units directly inside it. */
export async function registeredAggregates(services: ApiServices, batchId: string): Promise<Aggregate[]> {
  const byContainer = new Map<string, string[]>();
  for (const { container_key, unit_key } of await caseReads(services.store.db).pairsOf(batchId)) {
    byContainer.set(container_key, [...(byContainer.get(container_key) ?? []), unit_key]);
  }
  return [...byContainer].map(([container, contents]) => ({ container, contents, contentsRoot: "" }));
}

export async function treeOf(services: ApiServices, batchId: string): Promise<AggregationTree> {
  let trees = treesByStore.get(services.store);
  if (!trees) treesByStore.set(services.store, (trees = new Map()));
  const cached = trees.get(batchId);
  if (cached) return cached;
  const tree = aggregationTree(await registeredAggregates(services, batchId));
  if (trees.size >= TREES_KEPT) trees.delete(trees.keys().next().value as string);
  trees.set(batchId, tree);
  return tree;
}

// ----- scanning an SSCC -----

/** Who the scan helpers in scan.ts need to know: the verdict of a batch for a caller, and whether it may read it. */
export type BatchJudge = (batch: BatchRow) => Promise<{ judgement: Judgement; mayRead: boolean }>;

/**
 * The answer to a scanned case or pallet: the verdict of its batch (a case of a recalled batch is recalled), what is
 * inside it now (packs taken out at picking are no longer counted), and for those who may read the batch a proof
 * that it is part of the batch's committed aggregation. An SSCC never registered is UNKNOWN_CODE: scan the packs.
 */
export async function scanContainer(
  services: ApiServices,
  code: TraceCode,
  judge: BatchJudge,
): Promise<{ judgement: Judgement; batch?: BatchRow; container?: ContainerView }> {
  const reads = caseReads(services.store.db);
  const batchId = await reads.batchOfContainer(code.key);
  if (batchId === undefined) return { judgement: UNREGISTERED_CONTAINER };
  const batch = await findBatch(services, batchId);
  const contents = await reads.contentsOf([code.key]);
  const inside = contents.filter((c) => !c.unpacked);
  const packs = await reads.packsOf(inside.map((c) => c.unitKey));
  const kind = contents.some((c) => c.unitKey.startsWith("(00)")) ? "pallet" : "case";
  const { judgement, mayRead } = await judge(batch);
  const container: ContainerView = {
    sscc: code.key,
    kind,
    batchId,
    parent: (await reads.parentOf(code.key)) ?? null,
    units: inside.length,
    packs: packs.size,
    unpacked: contents.length - inside.length,
  };
  const first = inside[0];
  if (mayRead && first) {
    const tree = await treeOf(services, batchId);
    const aggregation = await reads.aggregation(batchId);
    container.proof = {
      containerId: packId(code.key),
      unitId: packId(first.unitKey),
      root: aggregation!.aggregation_root,
      proof: tree.proof(code.key, first.unitKey),
    };
  }
  // The batch's words speak of a pack; a genuine case is said to be one.
  const said =
    judgement.verdict === "GENUINE"
      ? `a ${kind} of released batch ${batch.batch_number}, expiring ${describeExpiry(batch.expires_at)}`
      : judgement.reason;
  const saidZh =
    judgement.verdict === "GENUINE"
      ? `已放行批次 ${batch.batch_number} 的一${kind === "pallet" ? "托" : "箱"}，有效期至 ${describeExpiry(batch.expires_at)}`
      : (judgement.reasonZh ?? judgement.reason);
  return {
    judgement: {
      verdict: judgement.verdict,
      reason: `${said}; ${contentsWords(container, contents.length)}`,
      reasonZh: `${saidZh}；${contentsWordsZh(container, contents.length)}`,
    },
    batch,
    container,
  };
}

/** The same, in Chinese, for the scan page's details line. */
function contentsWordsZh(container: ContainerView, packedUnits: number): string {
  const [kind, unit] = container.kind === "pallet" ? ["托盘", "箱"] : ["箱", "盒"];
  const now = `这一${kind}装入 ${packedUnits} ${unit}，现有 ${container.units} ${unit}`;
  if (container.unpacked === 0) return `${now}（共 ${container.packs} 盒）`;
  return `${now}：拣货时已取出 ${container.unpacked} ${unit}，请扫描要清点的药盒`;
}

function contentsWords(container: ContainerView, packedUnits: number): string {
  const unit = container.kind === "pallet" ? "case" : "pack";
  const now = `this ${container.kind} holds ${container.units} of the ${packedUnits} ${unit}s packed in it`;
  if (container.unpacked === 0) return `${now} (${container.packs} packs)`;
  return `${now}: ${container.unpacked} ${container.unpacked === 1 ? "was" : "were"} taken out at picking, so scan the packs you count on`;
}

/** The verdict of a case's batch, as for a pack in it that carries no state of its own. */
export async function judgeBatchFor(services: ApiServices, batch: BatchRow, scanner: { organizationId: number; expected: boolean } | undefined) {
  return judgePack(
    {},
    {
      batch: {
        batchNumber: batch.batch_number,
        expiresAt: batch.expires_at,
        state: batch.state,
        recallStatus: batch.recall_status,
        recallLevel: batch.recall_level,
        onHold: batch.hold_status === "ON_HOLD",
      },
      packState: "ACTIVE",
      unverifiedAttestations: (await scanReads(services.store.db).batchFacts(batch.id))?.unverified_attestations ?? 0,
      scanner,
    },
    services.now(),
  );
}

// ----- registering a batch's cases and pallets -----

function codeAt(text: string, field: string): TraceCode {
  try {
    return parseCode(text);
  } catch (error) {
    if (error instanceof CodeError) throw badInput(error.code, `${text}: ${error.message}`, field);
    throw error;
  }
}

async function aggregatesOf(body: { container: string; contents: string[] }[], batch: BatchRow): Promise<Aggregate[]> {
  const aggregates: Aggregate[] = [];
  for (const [i, entry] of body.entries()) {
    const container = codeAt(entry.container, `aggregates.${i}.container`);
    const contents = entry.contents.map((text, j) => codeAt(text, `aggregates.${i}.contents.${j}`));
    const foreign = contents.find((code) => code.kind === "pack" && code.productCode !== batch.product_code);
    if (foreign) throw badInput("CODE_NOT_IN_BATCH", `${foreign.key} is not a pack of product ${batch.product_code}`, `aggregates.${i}.contents`);
    try {
      aggregates.push((await aggregate(container, contents)).aggregate);
    } catch (error) {
      if (error instanceof CodeError) throw badInput(error.code, error.message, `aggregates.${i}`);
      throw error;
    }
  }
  return aggregates;
}

/** Packs of a batch whose codes are registered must be among them. */
async function checkPacksOfBatch(services: ApiServices, batchId: string, packKeys: string[]) {
  const { db } = services.store;
  if (!(await db.selectFrom("code_trees").select("batch_id").where("batch_id", "=", batchId).executeTakeFirst())) return;
  for (let i = 0; i < packKeys.length; i += 5_000) {
    const chunk = packKeys.slice(i, i + 5_000);
    const rows = await db.selectFrom("batch_codes").select(["canonical_key", "batch_id"]).where("canonical_key", "in", chunk).execute();
    const ofBatch = new Set(rows.filter((r) => r.batch_id === batchId).map((r) => r.canonical_key));
    const stranger = chunk.find((key) => !ofBatch.has(key));
    if (stranger) throw badInput("CODE_NOT_IN_BATCH", `${stranger} is not one of the batch's registered codes`, "aggregates");
  }
}

/**
 * Where a batch's registered cases and pallets are kept, beside its registered codes (src/api/codebook.ts): the pairs
 * live only in the store, so a store rebuilt from the chain registers them again from here.
 */
const aggregationFile = (dataDir: string, batchId: string) => path.join(dataDir, "trees", `${batchId}.aggregates.json`);

async function keepAggregation(dataDir: string, batchId: string, body: { container: string; contents: string[] }[]) {
  const file = aggregationFile(dataDir, batchId);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(`${file}.writing`, JSON.stringify(body), { mode: 0o600 });
  await rename(`${file}.writing`, file);
}

/**
 * Registers again the cases and pallets of batches whose aggregation is committed on the chain but not registered in
 * this store (a store rebuilt, or one that lost them), from the kept registrations, each checked against the
 * committed root as at first. Run after the codes are registered again (their packs must be the batch's).
 */
export async function recoverAggregations(services: ApiServices) {
  const { db } = services.store;
  const unregistered = await db
    .selectFrom("batch_aggregations")
    .leftJoin("aggregation_units", "aggregation_units.batch_id", "batch_aggregations.batch_id")
    .select("batch_aggregations.batch_id")
    .where("aggregation_units.batch_id", "is", null)
    .execute();
  const reregistered: string[] = [];
  const refusedBatches: { batchId: string; reason: string }[] = [];
  for (const { batch_id: batchId } of unregistered) {
    const file = aggregationFile(services.config.dataDir, batchId);
    if (!existsSync(file)) continue;
    try {
      const kept = z.array(z.object({ container: z.string(), contents: z.array(z.string()) })).safeParse(JSON.parse(await readFile(file, "utf8")));
      if (!kept.success) throw badInput("AGGREGATION_FILE_INVALID", `${file} is not a registration of cases and pallets`);
      await registerAggregation(services, await findBatch(services, batchId), kept.data);
      reregistered.push(batchId);
    } catch (error) {
      if (!(error instanceof LedgerError || error instanceof SyntaxError)) throw error;
      refusedBatches.push({ batchId, reason: error.message });
    }
  }
  return { reregistered, refused: refusedBatches };
}

/** Registers a batch's cases and pallets as its CMO or MAH would (the demo's seed, by its batch id). */
export async function registerBatchAggregation(services: ApiServices, batchId: string, aggregates: { container: string; contents: string[] }[]) {
  return registerAggregation(services, await findBatch(services, batchId), aggregates);
}

async function registerAggregation(services: ApiServices, batch: BatchRow, body: { container: string; contents: string[] }[]) {
  const reads = caseReads(services.store.db);
  const committed = await reads.aggregation(batch.id);
  if (!committed) {
    throw refused(
      "AGGREGATION_NOT_COMMITTED",
      `no aggregation of batch ${batch.batch_number} is committed on the ledger: commit its root first (trace cases commit)`,
    );
  }
  if (await reads.isRegistered(batch.id))
    throw conflict("AGGREGATION_ALREADY_REGISTERED", `the cases and pallets of batch ${batch.batch_number} are already registered`);
  const aggregates = await aggregatesOf(body, batch);
  let tree: AggregationTree;
  try {
    tree = aggregationTree(aggregates);
  } catch (error) {
    if (error instanceof CodeError) throw badInput(error.code, error.message, "aggregates");
    throw error;
  }
  if (tree.root !== committed.aggregation_root || tree.containers !== Number(committed.containers) || tree.packs !== Number(committed.packs)) {
    throw refused(
      "AGGREGATION_ROOT_MISMATCH",
      `these ${tree.containers} containers and ${tree.packs} packs hash to ${tree.root}, but batch ${batch.batch_number} committed ` +
        `${committed.aggregation_root} for ${committed.containers} containers and ${committed.packs} packs`,
    );
  }
  const containers = new Set(aggregates.map((a) => a.container));
  await checkPacksOfBatch(services, batch.id, [...new Set(aggregates.flatMap((a) => a.contents).filter((key) => !containers.has(key)))]);
  const rows = aggregates.flatMap(({ container, contents }) =>
    contents.map((unit) => ({
      container_key: container,
      unit_key: unit,
      batch_id: batch.id,
      container_id: packId(container),
      unit_id: packId(unit),
    })),
  );
  await services.store.db.transaction().execute(async (trx) => {
    for (let i = 0; i < rows.length; i += 2_000)
      await trx
        .insertInto("aggregation_units")
        .values(rows.slice(i, i + 2_000))
        .execute();
  });
  await keepAggregation(services.config.dataDir, batch.id, body);
  return { batchId: batch.id, root: tree.root, containers: tree.containers, packs: tree.packs };
}

// ----- shipping and receiving by the case -----

async function unitKeysOf(texts: string[], field: string) {
  const keys = texts.map((text, i) => codeAt(text, `${field}.${i}`).key);
  const seen = new Set<string>();
  for (const [i, key] of keys.entries()) {
    if (seen.has(key)) throw badInput("CODE_DUPLICATE", `${key} is listed twice`, `${field}.${i}`);
    seen.add(key);
  }
  return keys;
}

async function reconcile(services: ApiServices, caller: Caller, shipmentId: string, scannedTexts: string[]) {
  const shipment = await findShipment(services, shipmentId);
  if (shipment.recipient_id !== caller.organizationId) {
    throw notAllowed("NOT_SHIPMENT_ADDRESSEE", `only the addressee, organization ${shipment.recipient_id}, reconciles shipment ${shipmentId}`);
  }
  if (shipment.status !== "IN_TRANSIT") throw refused("SHIPMENT_NOT_IN_TRANSIT", `shipment ${shipmentId} was already received`);
  const reads = caseReads(services.store.db);
  const named = await reads.shipmentUnits(shipmentId);
  if (named.length === 0) {
    throw refused("SHIPMENT_UNITS_NOT_NAMED", `shipment ${shipmentId} names no cases or packs: receive it by quantity (trace receive)`);
  }
  const expected = await reads.packsOf(named);
  const scanned = await reads.packsOf(await unitKeysOf(scannedTexts, "scanned"));
  const missing = [...expected].filter(([code]) => !scanned.has(code)).map(([code, container]) => ({ code, container }));
  const unexpected = [...scanned].filter(([code]) => !expected.has(code)).map(([code, container]) => ({ code, container }));
  const now = services.now();
  const reconciliation = {
    shipment_id: shipmentId,
    recorded_by: caller.organizationId,
    expected_packs: expected.size,
    received_packs: expected.size - missing.length,
    missing_packs: missing.length,
    unexpected_units: unexpected.length,
    recorded_at: now,
  };
  await reads.recordReconciliation(reconciliation, [
    ...missing.map(({ code, container }) => ({ shipment_id: shipmentId, code_key: code, kind: "MISSING" as const, container_key: container })),
    ...unexpected.map(({ code, container }) => ({ shipment_id: shipmentId, code_key: code, kind: "UNEXPECTED" as const, container_key: container })),
  ]);
  return reconciliationAnswer(shipment.quantity, reconciliation, missing, unexpected);
}

type Difference = { code: string; container: string | null };

function reconciliationAnswer(
  shippedQuantity: number,
  r: { shipment_id: string; expected_packs: number; received_packs: number; recorded_by: number; recorded_at: number },
  missing: Difference[],
  unexpected: Difference[],
) {
  return {
    shipmentId: r.shipment_id,
    shippedQuantity,
    expectedPacks: Number(r.expected_packs),
    receivedPacks: Number(r.received_packs),
    missing,
    unexpected,
    recordedBy: r.recorded_by,
    recordedAt: Number(r.recorded_at),
  };
}

const shipmentParams = z.object({ shipmentId: bytes32 });

export const caseRoutes = [
  defineRoute({
    method: "post",
    path: "/v1/batches/:batchId/aggregation",
    summary:
      "Register a batch's cases and pallets (which pack is in which SSCC case, which case on which pallet); refused unless the pairs " +
      "hash to the aggregation root its CMO committed on-chain (AggregationLedger). Then scanning an SSCC answers its batch and contents",
    tags: ["cases"],
    access: "organization",
    params: z.object({ batchId: bytes32 }),
    body: z.object({
      aggregates: z
        .array(
          z.object({
            container: codeText.meta({ description: "the case's or pallet's SSCC, (00)…" }),
            contents: z.array(codeText).min(1).max(100_000),
          }),
        )
        .min(1)
        .max(100_000),
    }),
    response: z.object({ batchId: z.string(), root: z.string(), containers: z.number().int(), packs: z.number().int() }),
    status: 201,
    errors: {
      403: "only the batch's MAH or CMO registers its cases",
      404: "no such batch",
      409: "already registered",
      422: "not committed, or the pairs do not hash to the committed root",
    },
    async handle({ params, body, caller, services }) {
      const batch = await findBatch(services, params.batchId);
      await checkBatchAccess(services, caller, batch);
      if (caller!.organizationId !== batch.mah_id && caller!.organizationId !== batch.cmo_id) {
        throw notAllowed("NOT_BATCH_PARTY", "only the batch's MAH or CMO registers its cases and pallets");
      }
      return registerAggregation(services, batch, body.aggregates);
    },
  }),
  defineRoute({
    method: "get",
    path: "/v1/batches/:batchId/aggregation",
    summary: "A batch's registered cases and pallets: which unit is directly inside which SSCC (parties to the batch), for unpacking proofs",
    tags: ["cases"],
    access: "organization",
    params: z.object({ batchId: bytes32 }),
    response: z.object({ batchId: z.string(), aggregates: z.array(z.object({ container: z.string(), contents: z.array(z.string()) })) }),
    errors: { 403: "not a party to the batch", 404: "no such batch, or its cases are not registered" },
    async handle({ params, caller, services }) {
      const batch = await findBatch(services, params.batchId);
      await checkBatchAccess(services, caller, batch);
      const aggregates = await registeredAggregates(services, batch.id);
      if (aggregates.length === 0) throw notFound("AGGREGATION_NOT_REGISTERED", `no cases or pallets of batch ${batch.batch_number} are registered`);
      return { batchId: batch.id, aggregates: aggregates.map(({ container, contents }) => ({ container, contents })) };
    },
  }),
  defineRoute({
    method: "get",
    path: "/v1/cases/:code",
    summary: "What a case or pallet holds now: its units still inside and those taken out, with each pack's count (parties to its batch)",
    tags: ["cases"],
    access: "organization",
    params: z.object({ code: codeText.meta({ description: "the SSCC as scanned: (00)…, 00… or a Digital Link …/00/…" }) }),
    response: z.object({
      sscc: z.string(),
      batchId: z.string(),
      units: z.array(z.object({ code: z.string(), inside: z.boolean(), packs: z.number().int() })),
      packs: z.number().int().meta({ description: "packs inside it now" }),
    }),
    errors: { 403: "not a party to the case's batch", 404: "no case or pallet with this SSCC is registered" },
    async handle({ params, caller, services }) {
      const code = codeAt(params.code, "code");
      const reads = caseReads(services.store.db);
      const batchId = await reads.batchOfContainer(code.key);
      if (batchId === undefined) throw notFound("UNKNOWN_CONTAINER", `no case or pallet ${code.key} is registered on this ledger`);
      await checkBatchAccess(services, caller, await findBatch(services, batchId));
      const units = [];
      let total = 0;
      for (const unit of await reads.contentsOf([code.key])) {
        const packs = unit.unpacked ? 0 : (await reads.packsOf([unit.unitKey])).size;
        total += packs;
        units.push({ code: unit.unitKey, inside: !unit.unpacked, packs });
      }
      return { sscc: code.key, batchId, units, packs: total };
    },
  }),
  defineRoute({
    method: "post",
    path: "/v1/shipments/:shipmentId/units",
    summary:
      "Name the cases, pallets and loose packs a shipment carries (its shipper); refused unless their codes hash to the shipment's " +
      "on-chain codes root. The addressee then receives by scanning the cases",
    tags: ["cases"],
    access: "organization",
    params: shipmentParams,
    body: z.object({ units: z.array(codeText).min(1).max(100_000) }),
    response: z.object({ shipmentId: z.string(), units: z.number().int(), packs: z.number().int() }),
    status: 201,
    errors: {
      403: "only the shipper names the shipment's units",
      404: "no such shipment",
      409: "already named",
      422: "the codes do not hash to its root",
    },
    async handle({ params, body, caller, services }) {
      const shipment = await findShipment(services, params.shipmentId);
      if (!caller) throw unauthenticated("TOKEN_REQUIRED", "sign in to name a shipment's units");
      if (shipment.shipper_id !== caller.organizationId) {
        throw notAllowed("NOT_SHIPPER", `only the shipper, organization ${shipment.shipper_id}, names the units of shipment ${shipment.id}`);
      }
      const reads = caseReads(services.store.db);
      if ((await reads.shipmentUnits(shipment.id)).length > 0)
        throw conflict("SHIPMENT_UNITS_ALREADY_NAMED", `shipment ${shipment.id} already names its units`);
      const keys = await unitKeysOf(body.units, "units");
      const root = (await buildCodeTree(keys)).root;
      if (root !== shipment.codes_root) {
        throw refused(
          "SHIPMENT_ROOT_MISMATCH",
          `these ${keys.length} units hash to ${root}, but shipment ${shipment.id} committed ${shipment.codes_root}`,
        );
      }
      await services.store.db.transaction().execute(async (trx) => {
        for (let i = 0; i < keys.length; i += 5_000) {
          await trx
            .insertInto("shipment_units")
            .values(keys.slice(i, i + 5_000).map((unit_key) => ({ shipment_id: shipment.id, unit_key })))
            .execute();
        }
      });
      return { shipmentId: shipment.id, units: keys.length, packs: (await reads.packsOf(keys)).size };
    },
  }),
  defineRoute({
    method: "post",
    path: "/v1/shipments/:shipmentId/reconciliation",
    summary:
      "The addressee's scan of the cases and packs received, reconciled against the units the shipment named: records each pack " +
      "missing or unexpected, and answers the received quantity to sign in the receipt. Repeatable until the receipt",
    tags: ["cases"],
    access: "organization",
    params: shipmentParams,
    body: z.object({ scanned: z.array(codeText).max(100_000).meta({ description: "codes scanned on receipt: cases, pallets, loose packs" }) }),
    response: reconciliationView,
    status: 201,
    errors: { 403: "only the addressee reconciles", 404: "no such shipment", 422: "received already, or the shipment names no units" },
    async handle({ params, body, caller, services }) {
      if (!caller) throw unauthenticated("TOKEN_REQUIRED", "sign in to reconcile a shipment");
      return reconcile(services, caller, params.shipmentId, body.scanned);
    },
  }),
  defineRoute({
    method: "get",
    path: "/v1/shipments/:shipmentId/reconciliation",
    summary: "The recorded reconciliation of a shipment received by the case: packs missing and unexpected",
    tags: ["cases"],
    access: "organization",
    params: shipmentParams,
    response: reconciliationView,
    errors: { 403: "not a party to the shipment", 404: "no such shipment, or not reconciled" },
    async handle({ params, caller, services }) {
      if (!caller) throw unauthenticated("TOKEN_REQUIRED", "sign in to read a reconciliation");
      const shipment = await findShipment(services, params.shipmentId);
      if (!mayReadShipment(caller, shipment, await findBatch(services, shipment.batch_id))) {
        throw notAllowed("NOT_YOUR_SHIPMENT", `organization ${caller.organizationId} has no part in shipment ${shipment.id}`);
      }
      const reads = caseReads(services.store.db);
      const recorded = await reads.reconciliation(shipment.id);
      if (!recorded) throw notFound("NOT_RECONCILED", `shipment ${shipment.id} has no recorded reconciliation`);
      const differences = await reads.differences(shipment.id);
      const of = (kind: string) => differences.filter((d) => d.kind === kind).map((d) => ({ code: d.code_key, container: d.container_key }));
      return reconciliationAnswer(shipment.quantity, recorded, of("MISSING"), of("UNEXPECTED"));
    },
  }),
];
