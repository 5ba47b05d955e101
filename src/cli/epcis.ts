import * as fs from "node:fs";
import type { Command } from "commander";
import type { LedgerContract, SignedAttestation } from "../ledger";
import { LedgerError } from "../ledger/errors";
import type { Act } from "./codes";
import { EXIT_OK, type CliIo } from "./io";
import { printRecord } from "./output";
import { sign, submit } from "./session";
import { attestation, type Options } from "./ledger";

type Prepared = { eventIndex: number; contract: LedgerContract; type: string; message: Record<string, unknown> };
type CaptureJob = { captureID: string; status: string; attestations: Prepared[] };

/**
 * `trace epcis capture FILE`: posts an EPCIS 2.0 document from the organization's own systems to the API
 * (`POST /epcis/capture`), which answers the attestations its events become, unsigned; this signs each with the
 * organization's key, here, and sends them in the document's order. The key never leaves the signer.
 */
export function addEpcisCommands(program: Command, io: CliIo, act: Act) {
  const epcis = program
    .command("epcis")
    .description("GS1 EPCIS 2.0: capture documents from your own systems as signed attestations, export a batch's events");
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
      for (const prepared of job.attestations) {
        const signature = await sign(session.key, session.deployment, prepared.contract, prepared.type, prepared.message);
        const attestation = { contract: prepared.contract, type: prepared.type, message: prepared.message, signature } as SignedAttestation;
        const { submission } = await submit(session, attestation);
        sent.push({
          event: prepared.eventIndex,
          attestation: prepared.type,
          status: submission.status,
          transaction: submission.transactions[0]?.hash,
        });
      }
      const attestations = session.options.json
        ? sent
        : sent.map((s) => `event ${s.event}: ${s.attestation} ${s.status} ${s.transaction ?? ""}`).join("\n");
      printRecord(session.io, session.options.json, { captureID: job.captureID, status: job.status, sent: sent.length, attestations });
      return EXIT_OK;
    },
  );
}
