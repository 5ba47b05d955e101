import * as fs from "node:fs";
import { AbiCoder, keccak256 } from "ethers";
import type { Command } from "commander";
import { aggregationTree, buildCodeTree, CodeError, packId, parseCode } from "../codes";
import type { Aggregate, AggregationTree } from "../codes";
import { LedgerError } from "../ledger/errors";
import { batchArg, idArg, organizationArg, quantityArg, type BatchRef } from "./args";
import type { Act } from "./codes";
import { EXIT_OK, type CliIo } from "./io";
import { printRecord } from "./output";
import { attest, printSent, type Session } from "./session";
import { attestation, named, type Options } from "./ledger";

/**
 * `trace cases …`: a batch's cases and pallets (SSCC). The CMO commits which unit is in which container
 * (AggregationLedger) and registers the pairs with the API; holders ship by the case, receive by scanning cases
 * (reconciled pack by pack) and take packs out of cases at picking.
 */

/** An aggregation file: one pair a line, `CONTAINER UNIT` separated by spaces or a tab (`#` starts a comment). */
export function readAggregationFile(file: string): Aggregate[] {
  const byContainer = new Map<string, string[]>();
  fs.readFileSync(file, "utf8")
    .split(/\r?\n/)
    .forEach((raw, i) => {
      const line = raw.replace(/#.*$/, "").trim();
      if (line === "") return;
      const fields = line.split(/\s+/);
      if (fields.length !== 2)
        throw new LedgerError("bad_input", "BAD_AGGREGATION_LINE", `${file} line ${i + 1}: expected CONTAINER UNIT`, `line.${i + 1}`);
      const [container, unit] = fields.map((text) => keyOf(text, `${file} line ${i + 1}`, `line.${i + 1}`));
      byContainer.set(container!, [...(byContainer.get(container!) ?? []), unit!]);
    });
  return [...byContainer].map(([container, contents]) => ({ container, contents, contentsRoot: "" }));
}

function keyOf(text: string, where: string, field: string): string {
  try {
    return parseCode(text).key;
  } catch (error) {
    if (error instanceof CodeError) throw new LedgerError("bad_input", error.code, `${where}: ${text}: ${error.message}`, field);
    throw error;
  }
}

function treeOf(aggregates: Aggregate[]): AggregationTree {
  try {
    return aggregationTree(aggregates);
  } catch (error) {
    if (error instanceof CodeError) throw new LedgerError("bad_input", error.code, error.message);
    throw error;
  }
}

function requireApi(session: Session, what: string) {
  if (!session.api) throw new LedgerError("bad_input", "API_REQUIRED", `${what} needs --api URL: cases and their contents live in the API's store`);
  return session.api;
}

async function apiCall<T>(session: Session, method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
  const api = requireApi(session, path);
  const { token } = await api.signIn(session.key);
  return api.request<T>(method, path, body, token);
}

/** The batch's aggregation, from a file or (with --api) as its CMO registered it. */
async function batchAggregation(session: Session, batchId: string, file: string | undefined): Promise<Aggregate[]> {
  if (file !== undefined) return readAggregationFile(file);
  const answer = await apiCall<{ aggregates: { container: string; contents: string[] }[] }>(session, "GET", `/v1/batches/${batchId}/aggregation`);
  return answer.aggregates.map((a) => ({ ...a, contentsRoot: "" }));
}

const unitsOf = (file: string) =>
  fs
    .readFileSync(file, "utf8")
    .split(/\r?\n/)
    .map((line) => line.replace(/#.*$/, "").trim())
    .filter((line) => line !== "");

export function addCaseCommands(program: Command, io: CliIo, act: Act) {
  const cases = program
    .command("cases")
    .description("cases and pallets (SSCC): commit a batch's packing, ship and receive by the case, unpack at picking");
  const batchArgument = (c: Command) => c.argument("<batch>", "0x batch id or PRODUCT/BATCHNUMBER", batchArg);

  attestation(
    cases,
    io,
    act,
    "commit",
    "the CMO commits which pack is in which case and which case on which pallet; with --api it also registers the pairs",
    (c) => batchArgument(c).requiredOption("--file <file>", "the aggregation: one `CONTAINER UNIT` pair a line"),
    async (session, batch: BatchRef, options: Options) => {
      const aggregates = readAggregationFile(options.file);
      const tree = treeOf(aggregates);
      // Registration needs the commitment indexed: through the API, wait for it.
      if (session.api) session.options.wait = true;
      const sent = await attest(session, "AggregationLedger", "AggregationCommitment", {
        batchId: named(session, batch),
        aggregationRoot: tree.root,
        containers: tree.containers,
        packs: tree.packs,
      });
      const body = { aggregates: aggregates.map(({ container, contents }) => ({ container, contents })) };
      const registered = session.api
        ? await apiCall<{ containers: number }>(session, "POST", `/v1/batches/${batch.id}/aggregation`, body)
        : undefined;
      printSent(session, sent, {
        batchId: batch.id,
        aggregationRoot: tree.root,
        containers: tree.containers,
        packs: tree.packs,
        registered: registered !== undefined,
      });
      return EXIT_OK;
    },
  );

  attestation(
    cases,
    io,
    act,
    "unpack",
    "a holder takes packs (or cases from a pallet) out of a container at picking: the container no longer counts them",
    (c) =>
      batchArgument(c)
        .argument("<container>", "the case's or pallet's SSCC")
        .argument("<units...>", "the packs or cases taken out, as scanned")
        .option("--file <file>", "the batch's aggregation file (default with --api: as registered)"),
    async (session, batch: BatchRef, containerText: string, unitTexts: string[], options: Options) => {
      const tree = treeOf(await batchAggregation(session, batch.id, options.file));
      const container = keyOf(containerText, "container", "container");
      const units = unitTexts.map((text, i) => keyOf(text, `unit ${i + 1}`, `units.${i}`));
      let proved: ReturnType<AggregationTree["multiProof"]>;
      try {
        proved = tree.multiProof(container, units);
      } catch (error) {
        if (error instanceof CodeError) throw new LedgerError("bad_input", error.code, error.message, "units");
        throw error;
      }
      const sent = await attest(
        session,
        "AggregationLedger",
        "Unpacking",
        { batchId: named(session, batch), containerId: packId(container), units: proved.units },
        { proof: proved.proof, proofFlags: proved.proofFlags },
      );
      printSent(session, sent, { batchId: batch.id, container, unpacked: units.length });
      return EXIT_OK;
    },
  );

  attestation(
    cases,
    io,
    act,
    "ship",
    "the holder ships cases, pallets and loose packs: the shipment commits their codes and (with --api) names them",
    (c) =>
      batchArgument(c)
        .requiredOption("--to <id>", "the recipient organization", organizationArg)
        .requiredOption("--units <file>", "the shipped cases, pallets and loose packs, one code a line")
        .option("--quantity <n>", "packs shipped (default with --api: the packs now inside the units)", quantityArg),
    async (session, batch: BatchRef, options: Options) => {
      const units = unitsOf(options.units).map((text, i) => keyOf(text, `${options.units} line ${i + 1}`, `line.${i + 1}`));
      const quantity = (options.quantity as bigint | undefined) ?? (await packsInside(session, units));
      if (session.api) session.options.wait = true;
      const sent = await attest(session, "BatchLedger", "Shipment", {
        batchId: named(session, batch),
        recipientId: options.to,
        quantity,
        codesRoot: (await buildCodeTree(units)).root,
      });
      const shipmentId = keccak256(
        AbiCoder.defaultAbiCoder().encode(["uint32", "uint256"], [session.organizationId, sent.attestation.message.nonce]),
      );
      if (session.api) await apiCall(session, "POST", `/v1/shipments/${shipmentId}/units`, { units });
      printSent(session, sent, {
        batchId: batch.id,
        shipmentId,
        recipientId: options.to,
        quantity,
        units: units.length,
        receiveWith: `trace cases receive ${shipmentId} --scanned FILE`,
      });
      return EXIT_OK;
    },
  );

  attestation(
    cases,
    io,
    act,
    "receive",
    "the addressee scans the cases received: the API reconciles them pack by pack and records the differences, then the receipt is signed for the packs found",
    (c) => c.argument("<shipment>", "the shipment's 0x id", idArg).requiredOption("--scanned <file>", "the codes scanned on receipt, one a line"),
    async (session, shipmentId: string, options: Options) => {
      type Reconciliation = {
        shippedQuantity: number;
        expectedPacks: number;
        receivedPacks: number;
        missing: { code: string; container: string | null }[];
        unexpected: { code: string; container: string | null }[];
      };
      const shipment = await apiCall<{ batch: { id: string; batchNumber: string }; shipper: { id: number }; quantity: number }>(
        session,
        "GET",
        `/v1/shipments/${shipmentId}`,
      );
      const reconciled = await apiCall<Reconciliation>(session, "POST", `/v1/shipments/${shipmentId}/reconciliation`, {
        scanned: unitsOf(options.scanned),
      });
      const received = BigInt(Math.min(reconciled.receivedPacks, shipment.quantity));
      const sent = await attest(session, "BatchLedger", "Receipt", {
        shipmentId,
        batchId: named(session, { id: shipment.batch.id, label: shipment.batch.batchNumber }),
        shipperId: shipment.shipper.id,
        shippedQuantity: BigInt(shipment.quantity),
        receivedQuantity: received,
      });
      printSent(session, sent, {
        shipmentId,
        expected: reconciled.expectedPacks,
        received,
        missing: reconciled.missing.length,
        unexpected: reconciled.unexpected.length,
      });
      if (reconciled.missing.length + reconciled.unexpected.length > 0) {
        printRecord(session.io, session.options.json, {
          missing: reconciled.missing.map((m) => `${m.code}${m.container ? ` (in ${m.container})` : ""}`).join(", ") || "none",
          unexpected: reconciled.unexpected.map((m) => m.code).join(", ") || "none",
        });
      }
      return EXIT_OK;
    },
  );
}

/** The packs now inside the listed units (a pack counts itself), as the API counts them. */
async function packsInside(session: Session, units: string[]): Promise<bigint> {
  let total = 0n;
  for (const unit of units) {
    if (!unit.startsWith("(00)")) {
      total += 1n;
      continue;
    }
    requireApi(session, "counting the packs inside cases (or pass --quantity)");
    total += BigInt((await apiCall<{ packs: number }>(session, "GET", `/v1/cases/${encodeURIComponent(unit)}`)).packs);
  }
  return total;
}
