import { closeSync, openSync, writeSync } from "node:fs";
import { parentPort, Worker, workerData } from "node:worker_threads";
import { CodeError, parseCode } from "../codes";
import type { TraceCode } from "../codes";
import { badInput, LedgerError } from "../ledger/errors";
import type { ErrorKind } from "../ledger/errors";
import { printedExpiryMismatch } from "../ledger/expiry";
import { LOWER_THREAD_PRIORITY } from "../ops/thread-priority";

/** One code as a client sent it, and where: `codes[3]` (field codes.3) in JSON, `line 4` (field line.4) in text. */
export type CodeLine = { text: string; where: string; field: string };

/** What each code of a batch must agree with: the batch's product and, for a printed (17), its expiry. */
export type BatchFacts = { productCode: string; expiresAt: number };

/** Codes sent to the worker at a time, and how many such batches may wait there unparsed (the rest wait in the body). */
const CODES_PER_MESSAGE = 5_000;
const MESSAGES_IN_FLIGHT = 4;

type CodesMessage = { texts: string[]; wheres: string[]; fields: string[] };
type Refusal = { kind?: ErrorKind; code?: string; message: string; field?: string };
type SpoolReply = { parsed: true } | { count: number } | { refusal: Refusal };

/**
 * Parses each code of a batch being registered and spools its canonical key, one a line, to `spool`; answers how
 * many codes there were. The parsing (a few µs a code: tens of seconds for 10,000,000) runs in a worker thread at a
 * lower priority: on the thread that answers requests, it made every scan sent during the body wait behind it. A
 * refused code is refused as on that thread: the earliest refused line wins, whether the worker refused it or the
 * body's reading did (a line too long).
 */
export async function spoolCodes(spool: string, codes: AsyncIterable<CodeLine> | Iterable<CodeLine>, batch: BatchFacts): Promise<number> {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { tsx: require.resolve("tsx/cjs/api"), module: __filename, spool, batch },
  });
  const parser = parserReplies(worker);
  try {
    let message = emptyMessage();
    try {
      for await (const code of codes) {
        message.texts.push(code.text);
        message.wheres.push(code.where);
        message.fields.push(code.field);
        if (message.texts.length === CODES_PER_MESSAGE) {
          await parser.send(message);
          message = emptyMessage();
        }
      }
      if (message.texts.length > 0) await parser.send(message);
    } catch (error) {
      // The codes read before this error are earlier lines: a refusal of one of them is the answer.
      if (parser.failure() === undefined) {
        if (message.texts.length > 0) await parser.send(message).catch(() => undefined);
        await parser.end().catch(() => undefined);
      }
      throw parser.failure() ?? error;
    }
    return await parser.end();
  } finally {
    void worker.terminate();
  }
}

const emptyMessage = (): CodesMessage => ({ texts: [], wheres: [], fields: [] });

/** The worker seen from the calling thread: codes sent with backpressure, its count or its refusal. */
function parserReplies(worker: Worker) {
  let inFlight = 0;
  let failure: unknown;
  let wake: (() => void) | undefined;
  let counted: (count: number) => void;
  let failed: (error: unknown) => void;
  const count = new Promise<number>((resolve, reject) => {
    counted = resolve;
    failed = reject;
  });
  count.catch(() => undefined);
  const fail = (error: unknown) => {
    failure ??= error;
    failed(failure);
    wake?.();
  };
  worker.on("message", (reply: SpoolReply) => {
    if ("parsed" in reply) {
      inFlight--;
      wake?.();
    } else if ("count" in reply) counted(reply.count);
    else fail(refusalError(reply.refusal));
  });
  worker.once("error", fail);
  worker.once("exit", (code) => fail(new Error(`the code parsing worker exited with ${code}`)));
  return {
    async send(message: CodesMessage) {
      while (inFlight >= MESSAGES_IN_FLIGHT && failure === undefined) await new Promise<void>((resolve) => (wake = resolve));
      if (failure !== undefined) throw failure;
      inFlight++;
      worker.postMessage(message);
    },
    end() {
      worker.postMessage("end");
      return count;
    },
    failure: () => failure,
  };
}

function refusalError({ kind, code, message, field }: Refusal): Error {
  return kind && code ? new LedgerError(kind, code, message, field) : new Error(`parsing the codes failed: ${message}`);
}

// Plain JavaScript that registers tsx's CommonJS loader and then loads this module, as src/codes/tree-worker.ts does.
const WORKER_SOURCE = `
${LOWER_THREAD_PRIORITY}
require(require("node:worker_threads").workerData.tsx).register();
require(require("node:worker_threads").workerData.module);
`;

/** The worker thread: parses each message's codes in turn, appends their keys to the spool, and says so. */
function parseInWorker(port: NonNullable<typeof parentPort>, { spool, batch }: { spool: string; batch: BatchFacts }) {
  const file = openSync(spool, "w");
  const facts = { productCode: batch.productCode, expiryMismatch: expiryMismatchOf(batch.expiresAt) };
  let count = 0;
  let refused = false;
  port.on("message", (message: CodesMessage | "end") => {
    if (refused) return;
    try {
      if (message === "end") {
        closeSync(file);
        port.postMessage({ count } satisfies SpoolReply);
        return;
      }
      const keys = message.texts.map((text, i) => canonicalKeyOf({ text, where: message.wheres[i]!, field: message.fields[i]! }, facts));
      writeSync(file, `${keys.join("\n")}\n`);
      count += keys.length;
      port.postMessage({ parsed: true } satisfies SpoolReply);
    } catch (error) {
      refused = true;
      closeSync(file);
      const refusal: Refusal =
        error instanceof LedgerError
          ? { kind: error.kind, code: error.code, message: error.message, field: error.field }
          : { message: String((error as Error)?.message ?? error) };
      port.postMessage({ refusal } satisfies SpoolReply);
    }
  });
}

if (parentPort && workerData?.module === __filename) parseInWorker(parentPort, workerData as { spool: string; batch: BatchFacts });

/**
 * Why a printed expiry disagrees with the batch's, remembered per printed date: a batch's packs print one date, and
 * working it out (a calendar check through Date) was a third of parsing a code. At most one entry per calendar day.
 */
function expiryMismatchOf(expiresAt: number) {
  const known = new Map<string, string | undefined>();
  return (printed: string) => {
    if (!known.has(printed)) known.set(printed, printedExpiryMismatch(printed, expiresAt));
    return known.get(printed);
  };
}

/** Parses one code of a batch being registered; the product must be the batch's, and so must a printed expiry. */
function canonicalKeyOf(
  { text, where, field }: CodeLine,
  { productCode, expiryMismatch }: { productCode: string; expiryMismatch: (printed: string) => string | undefined },
): string {
  let code: TraceCode;
  try {
    code = parseCode(text);
  } catch (error) {
    if (error instanceof CodeError) throw badInput(error.code, `${where}: ${error.message}`, field);
    throw error;
  }
  if (code.kind !== "pack") throw badInput("CODE_NOT_A_PACK", `${where} is a logistic unit, not a pack`, field);
  if (code.productCode !== productCode) {
    throw badInput("CODE_PRODUCT_MISMATCH", `${where} is of product ${code.productCode}, the batch is of ${productCode}`, field);
  }
  const printed = code.scheme === "gs1" ? code.expiry : undefined;
  const mismatch = printed && expiryMismatch(printed.iso);
  if (mismatch) throw badInput("CODE_EXPIRY_MISMATCH", `${where} ${code.key} (17) ${printed.yymmdd}: ${mismatch}`, field);
  return code.key;
}
