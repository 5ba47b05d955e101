import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { LedgerError } from "../ledger/errors";
import type { CodeBook } from "../api/codebook";
import { registerBatchAggregation } from "../api/cases";
import type { ApiServices } from "../api/context";
import type { DocumentVault } from "../quality/documents";
import { keepReason } from "../supervision/cases";
import type { DemoBatch, DemoDocument, DemoReason, DemoSeed, ScanSample } from "./seed";

/** Where the demo keeps what it made; the web pages read `organizations.json` for one-click sign-in. */
export function demoFiles(dataDir: string) {
  const dir = path.join(dataDir, "demo");
  return {
    dir,
    organizations: path.join(dir, "organizations.json"),
    batches: path.join(dir, "batches.json"),
    samples: path.join(dir, "scan-codes.json"),
    documents: path.join(dir, "documents.json"),
    reasons: path.join(dir, "reasons.json"),
  };
}

/**
 * Writes the demo's keys, batch codes and scan samples. Organizations last: its presence is what marks a data
 * directory as seeded, so a start that died mid-seed is not mistaken for a finished one. Keys are in the clear
 * (mode 0600): this is a development chain.
 */
export function writeDemo(dataDir: string, seed: DemoSeed): void {
  const files = demoFiles(dataDir);
  mkdirSync(files.dir, { recursive: true });
  writeAtomically(files.batches, seed.batches, 0o644);
  writeAtomically(files.samples, seed.samples, 0o644);
  writeAtomically(files.documents, seed.documents, 0o600);
  writeAtomically(files.reasons, seed.reasons, 0o644);
  writeAtomically(files.organizations, seed.organizations, 0o600);
}

function writeAtomically(file: string, value: unknown, mode: number) {
  const pending = `${file}.${process.pid}.tmp`;
  writeFileSync(pending, `${JSON.stringify(value, null, 2)}\n`, { mode });
  renameSync(pending, file);
}

/** The demo a previous start recorded in this data directory, if any. */
export function readDemo(dataDir: string): Pick<DemoSeed, "batches" | "samples" | "documents" | "reasons"> | undefined {
  const files = demoFiles(dataDir);
  if (!existsSync(files.organizations)) return undefined;
  const read = <T>(file: string): T => {
    try {
      return JSON.parse(readFileSync(file, "utf8")) as T;
    } catch (error) {
      throw new Error(
        `demo file ${file} cannot be read (${(error as Error).message}); remove ${files.dir} and the data directory's chain to seed again`,
      );
    }
  };
  // A data directory seeded before the demo had quality documents has none to upload.
  const documents = existsSync(files.documents) ? read<DemoDocument[]>(files.documents) : [];
  // Nor, seeded before the demo kept its reasons' words, reasons to keep.
  const reasons = existsSync(files.reasons) ? read<DemoReason[]>(files.reasons) : [];
  return { batches: read<DemoBatch[]>(files.batches), samples: read<ScanSample[]>(files.samples), documents, reasons };
}

/**
 * Registers each demo batch's codes with the API's code book, so scans find their batch and signed-in parties get
 * proofs. Batches already registered are skipped: a restart, or a database rebuilt from the chain, registers only
 * what is missing.
 */
export async function registerDemoCodes(codes: CodeBook, batches: DemoBatch[], now: number): Promise<number> {
  let registered = 0;
  for (const batch of batches) {
    try {
      await codes.register({ batchId: batch.batchId, codes: batch.codes, by: batch.cmoId, now });
      registered++;
    } catch (error) {
      if (!(error instanceof LedgerError && error.code === "CODES_ALREADY_REGISTERED")) throw error;
    }
  }
  return registered;
}

/** Registers the demo's cases and pallets (batches that have them), skipping those already registered. */
export async function registerDemoCases(services: ApiServices, batches: DemoBatch[]): Promise<void> {
  for (const batch of batches) {
    if (!batch.aggregates) continue;
    try {
      await registerBatchAggregation(services, batch.batchId, batch.aggregates);
    } catch (error) {
      if (!(error instanceof LedgerError && error.code === "AGGREGATION_ALREADY_REGISTERED")) throw error;
    }
  }
}

/** Keeps the words of the reasons the demo signed as hashes (a reason already kept is left as it is). */
export async function keepDemoReasons(services: ApiServices, reasons: DemoReason[]): Promise<void> {
  for (const r of reasons) await keepReason(services.store.db, r.text, r.organizationId, services.now());
}

/**
 * Uploads the demo's quality documents for the batch events that record them, as their uploaders; a document
 * already stored changes nothing (a restart), so only a rebuilt or new store gets them again.
 */
export async function uploadDemoDocuments(vault: DocumentVault, documents: DemoDocument[]): Promise<number> {
  let uploaded = 0;
  for (const d of documents) {
    const { created } = await vault.upload(
      { organizationId: d.uploaderId, role: "NONE" },
      { record: { batchId: d.batchId }, content: Buffer.from(d.content, "utf8"), fileName: d.fileName, mediaType: d.mediaType },
    );
    if (created) uploaded++;
  }
  return uploaded;
}

/** The scan samples as lines to print: the code as a JSON string (as POST /v1/scans takes it) and its Digital Link. */
export function sampleLines(samples: ScanSample[]): string[] {
  return samples.map(
    (s) => `  ${s.kind.padEnd(11)}${JSON.stringify(s.code)}${s.digitalLink ? `  ${s.digitalLink}` : ""}  -> ${s.verdict}: ${s.note}`,
  );
}
