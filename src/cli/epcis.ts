import * as fs from "node:fs";
import type { Command } from "commander";
import { RELAY_PATH } from "../ledger";
import type { LedgerContract, SignedAttestation } from "../ledger";
import type { Submission } from "./transport";
import { LedgerError } from "../ledger/errors";
import type { Act } from "./codes";
import { EXIT_OK, type CliIo } from "./io";
import { printRecord, toJson } from "./output";
import { apiOf, tokenOf, type ReadOptions } from "./reads";
import { readOptions } from "./supervision";
import { batchArg, type BatchRef } from "./args";
import { sign, submit } from "./session";
import { attestation, type Options } from "./ledger";

type Prepared = {
  eventIndex: number;
  contract: LedgerContract;
  type: string;
  message: Record<string, unknown>;
  proof?: string[];
  proofFlags?: boolean[];
  domain?: unknown;
  types?: unknown;
};
type CaptureJob = { captureID: string; status: string; attestations: Prepared[]; transactions: { hash: string; contract: string }[] };

/**
 * `trace epcis capture FILE`: posts an EPCIS 2.0 document from the organization's own systems to the API
 * (`POST /epcis/capture`), which answers the attestations its events become, unsigned; this signs each with the
 * organization's key, here, and sends them in the document's order: through the API's relay in one request (one
 * transaction, the whole document or nothing), or over RPC one transaction each. The key never leaves the signer.
 * An organization that chose custody (`PUT /epcis/custody`) gets its document signed and sent by the server: this
 * then only prints the transaction.
 */
export function addEpcisCommands(program: Command, io: CliIo, act: Act) {
  const epcis = program
    .command("epcis")
    .description("GS1 EPCIS 2.0: export a batch's events; capture documents from your own systems as signed attestations");
  addEpcisExport(epcis, io, act);
  attestation(
    epcis,
    io,
    act,
    "capture",
    "capture an EPCIS 2.0 document (JSON or JSON-LD): each event becomes its attestation, signed with your key and sent; needs --api",
    (c) => c.argument("<file>", "the EPCIS document"),
    async (session, file: string, _options: Options) => {
      if (!session.api)
        throw new LedgerError("bad_input", "API_REQUIRED", "capturing EPCIS needs --api URL: the API maps the events to attestations");
      let document: unknown;
      try {
        document = JSON.parse(fs.readFileSync(file, "utf8"));
      } catch (error) {
        throw new LedgerError("bad_input", "EPCIS_UNREADABLE", `${file} is not a JSON document: ${(error as Error).message}`, "file");
      }
      const { token } = await session.api.signIn(session.key);
      const job = await session.api.request<CaptureJob>("POST", "/epcis/capture", document, token);
      const sent = [];
      if (job.status === "SUBMITTED") {
        for (const prepared of job.attestations) {
          sent.push({ event: prepared.eventIndex, attestation: prepared.type, status: "submitted", transaction: job.transactions[0]?.hash });
        }
      }
      const signed: SignedAttestation[] = [];
      for (const prepared of job.status === "ACCEPTED" ? job.attestations : []) {
        const signature = await sign(session.key, session.deployment, prepared.contract, prepared.type, prepared.message);
        // What to sign travels with the EIP-712 domain and types the signer used; the relay takes the attestation alone.
        const { eventIndex: _index, domain: _domain, types: _types, ...unsigned } = prepared;
        signed.push({ ...unsigned, signature } as SignedAttestation);
      }
      if (session.transport.kind === "api" && signed.length > 0) {
        const submission = await session.api.request<Submission>("POST", RELAY_PATH, { attestations: signed, wait: session.options.wait });
        for (const prepared of job.attestations) {
          sent.push({
            event: prepared.eventIndex,
            attestation: prepared.type,
            status: submission.status,
            transaction: submission.transactions[0]?.hash,
          });
        }
      } else {
        for (const [i, attestation] of signed.entries()) {
          const { submission } = await submit(session, attestation);
          sent.push({
            event: job.attestations[i]!.eventIndex,
            attestation: attestation.type,
            status: submission.status,
            transaction: submission.transactions[0]?.hash,
          });
        }
      }
      const attestations = session.options.json
        ? sent
        : sent.map((s) => `event ${s.event}: ${s.attestation} ${s.status} ${s.transaction ?? ""}`).join("\n");
      printRecord(session.io, session.options.json, { captureID: job.captureID, status: job.status, sent: sent.length, attestations });
      return EXIT_OK;
    },
  );
}

/** `trace epcis export <batch>`: the batch's EPCIS 2.0 document, as the API exports it, to stdout or a file. */
function addEpcisExport(epcis: Command, io: CliIo, act: Act) {
  readOptions(
    epcis
      .command("export")
      .description("a batch's events as an EPCIS 2.0 JSON-LD document (regulators, the batch's MAH and CMO)")
      .argument("<batch>", "0x batch id or PRODUCT/BATCHNUMBER", batchArg)
      .option("--out <file>", "write the document to this file instead of printing it"),
  ).action(
    act(async (batch: BatchRef, options: ReadOptions & { out?: string }) => {
      const api = apiOf(io, options);
      const token = await tokenOf(io, api, options, true);
      const document = await api.request<{ epcisBody: { eventList: unknown[] } }>("GET", `/v1/batches/${batch.id}/epcis`, undefined, token);
      if (options.out === undefined) {
        io.out(toJson(document));
        return EXIT_OK;
      }
      fs.writeFileSync(options.out, `${toJson(document)}\n`);
      printRecord(io, options.json, { batch: batch.label ?? batch.id, events: document.epcisBody.eventList.length, file: options.out });
      return EXIT_OK;
    }),
  );
}
