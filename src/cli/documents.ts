import * as fs from "node:fs";
import * as path from "node:path";
import { InvalidArgumentError } from "commander";
import type { Command } from "commander";
import { chinaTime } from "../ledger/china-time";
import { LedgerError } from "../ledger/errors";
import type { DocumentAccess, DocumentMetadata } from "../quality/documents";
import { batchArg, organizationArg, type BatchRef } from "./args";
import type { Act } from "./codes";
import { EXIT_OK, type CliIo } from "./io";
import { jsonOption, printRecord, printRows, toJson } from "./output";
import { apiOf, tokenOf, type ReadOptions } from "./reads";

/** A ledger event by its position: `0xTRANSACTION:LOG_INDEX`. */
export function recordArg(text: string): { transactionHash: string; logIndex: number } {
  const match = /^(0x[0-9a-fA-F]{64}):([0-9]{1,9})$/.exec(text);
  if (!match) throw new InvalidArgumentError("expected a ledger event as 0xTRANSACTION_HASH:LOG_INDEX (the provenance lists both)");
  return { transactionHash: match[1]!.toLowerCase(), logIndex: Number(match[2]) };
}

function hashArg(text: string): string {
  if (!/^0x[0-9a-fA-F]{64}$/.test(text)) throw new InvalidArgumentError("expected a document hash (0x and 64 hex digits)");
  return text.toLowerCase();
}

type UploadOptions = ReadOptions & { record?: { transactionHash: string; logIndex: number }; batch?: BatchRef; mediaType: string; name?: string };

async function session(io: CliIo, options: ReadOptions) {
  const api = apiOf(io, options);
  return { api, token: await tokenOf(io, api, options, true) };
}

function printDocument(io: CliIo, json: boolean, document: DocumentMetadata, extra: Record<string, unknown> = {}) {
  if (json) return io.out(toJson({ ...extra, document }));
  printRecord(io, false, {
    ...extra,
    hash: document.hash,
    file: `${document.fileName} (${document.mediaType}, ${document.size} bytes)`,
    record: `${document.record.event}.${document.record.field} at ${document.record.transactionHash}:${document.record.logIndex}`,
    batch: document.batchId ?? undefined,
    owner: document.ownerId,
    readers: document.readers.join(", "),
  });
}

async function upload(io: CliIo, file: string, options: UploadOptions): Promise<number> {
  if ((options.record === undefined) === (options.batch === undefined)) {
    throw new LedgerError(
      "bad_input",
      "RECORD_REQUIRED",
      "name the ledger event the document is for: --record 0xTX:LOG, or --batch BATCH",
      "--record",
    );
  }
  let content: Buffer;
  try {
    content = fs.readFileSync(file);
  } catch (error) {
    throw new LedgerError("bad_input", "UNREADABLE_FILE", `cannot read ${file}: ${(error as Error).message}`, "file");
  }
  const { api, token } = await session(io, options);
  const body = {
    ...(options.record ? { record: options.record } : { batchId: options.batch!.id }),
    fileName: options.name ?? path.basename(file),
    mediaType: options.mediaType,
    content: content.toString("base64"),
  };
  const answer = await api.request<{ created: boolean; document: DocumentMetadata }>("POST", "/v1/documents", body, token);
  printDocument(io, options.json, answer.document, { stored: answer.created ? "uploaded" : "already stored (nothing changed)" });
  return EXIT_OK;
}

async function get(io: CliIo, hash: string, options: ReadOptions & { out?: string }): Promise<number> {
  const { api, token } = await session(io, options);
  if (!options.out) {
    printDocument(io, options.json, await api.request<DocumentMetadata>("GET", `/v1/documents/${hash}`, undefined, token));
    return EXIT_OK;
  }
  // Checked before downloading too, so a refused write is not an audited download.
  if (fs.existsSync(options.out)) throw unwritable(options.out, "the file exists");
  const answer = await api.request<{ document: DocumentMetadata; content: string }>("GET", `/v1/documents/${hash}/content`, undefined, token);
  try {
    fs.writeFileSync(options.out, Buffer.from(answer.content, "base64"), { flag: "wx", mode: 0o600 });
  } catch (error) {
    throw unwritable(options.out, (error as Error).message);
  }
  printDocument(io, options.json, answer.document, { saved: options.out });
  return EXIT_OK;
}

function unwritable(file: string, why: string) {
  return new LedgerError("bad_input", "UNWRITABLE_FILE", `cannot write ${file} (an existing file is never overwritten): ${why}`, "--out");
}

async function audit(io: CliIo, hash: string, options: ReadOptions): Promise<number> {
  const { api, token } = await session(io, options);
  const answer = await api.request<{ items: DocumentAccess[] }>("GET", `/v1/documents/${hash}/audit`, undefined, token);
  if (options.json) io.out(toJson(answer));
  else
    printRows(
      io,
      ["time (CST)", "organization", "action", "outcome", "detail"],
      answer.items.map((a) => [chinaTime(a.at).slice(0, 19).replace("T", " "), a.organizationId, a.action, a.outcome, a.detail ?? ""]),
    );
  return EXIT_OK;
}

async function changeReader(io: CliIo, hash: string, organizationId: number, grant: boolean, options: ReadOptions): Promise<number> {
  const { api, token } = await session(io, options);
  const document = grant
    ? await api.request<DocumentMetadata>("POST", `/v1/documents/${hash}/readers`, { organizationId }, token)
    : await api.request<DocumentMetadata>("DELETE", `/v1/documents/${hash}/readers/${organizationId}`, undefined, token);
  printDocument(io, options.json, document);
  return EXIT_OK;
}

export function addDocumentCommands(program: Command, io: CliIo, act: Act): void {
  const documents = program
    .command("documents")
    .description("quality documents (deviation reports, CAPA plans, agreements, release decisions…) addressed by the hash the ledger records");
  const withApi = (command: Command) =>
    command
      .option("--api <url>", "the ledger's API (env TRACE_API)")
      .option("--keystore <file>", "sign in with this key (env TRACE_KEYSTORE; or TRACE_PRIVATE_KEY)")
      .addOption(jsonOption());
  withApi(
    documents
      .command("upload")
      .description(
        "upload a document for the ledger event that records its keccak-256 hash (once; readable by the event's parties and their regulators)",
      )
      .argument("<file>", "the document")
      .option("--record <tx:log>", "the ledger event: 0xTRANSACTION_HASH:LOG_INDEX", recordArg)
      .option("--batch <batch>", "or the batch one of whose events records the document's hash (0x id or PRODUCT/BATCHNUMBER)", batchArg)
      .option("--media-type <type>", "its media type", "application/octet-stream")
      .option("--name <name>", "its file name as readers see it (default: the file's)"),
  ).action(act((file: string, options: UploadOptions) => upload(io, file, options)));
  withApi(
    documents
      .command("get")
      .description("a document's metadata, or with --out the document itself (every download is audited)")
      .argument("<hash>", "the document's hash", hashArg)
      .option("--out <file>", "write the document to this new file"),
  ).action(act((hash: string, options: ReadOptions & { out?: string }) => get(io, hash, options)));
  withApi(
    documents
      .command("audit")
      .description("every upload, download (served or refused), grant and revocation of a document (its owner, uploader and regulators)")
      .argument("<hash>", "the document's hash", hashArg),
  ).action(act((hash: string, options: ReadOptions) => audit(io, hash, options)));
  for (const grant of [true, false]) {
    withApi(
      documents
        .command(grant ? "grant" : "revoke")
        .description(
          grant ? "let another organization read a document you own" : "take an organization's read access away (the owner stays a reader)",
        )
        .argument("<hash>", "the document's hash", hashArg)
        .requiredOption("--org <id>", "the organization", organizationArg),
    ).action(act((hash: string, options: ReadOptions & { org: number }) => changeReader(io, hash, options.org, grant, options)));
  }
}
