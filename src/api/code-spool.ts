import { closeSync, openSync, writeSync } from "node:fs";
import { Worker } from "node:worker_threads";
import type { MessagePort } from "node:worker_threads";
import { CodeError } from "../codes/errors";
import { parseCode } from "../codes/parse";
import type { Gs1Pack, NmpaPack } from "../codes/types";
import { badInput, LedgerError } from "../ledger/errors";
import type { ErrorKind } from "../ledger/errors";
import { printedExpiryMismatch } from "../ledger/expiry";
import { LOWER_THREAD_PRIORITY } from "../ops/thread-priority";

/** One code as a client sent it, and where: `codes[3]` (field codes.3) in JSON, `line 4` (field line.4) in text. */
export type CodeLine = { text: string; where: string; field: string };

/** What each code of a batch must agree with: the batch's product and, for a printed (17), its expiry. */
export type BatchTerms = { productCode: string; expiresAt: number };

/** Codes sent to the worker in one message, and how many such messages may wait there unparsed (the rest wait in the body). */
const CODES_PER_MESSAGE = 5_000;
const MESSAGES_IN_FLIGHT = 4;

type CodesMessage = { texts: string[]; wheres: string[]; fields: string[] };
/** Why the worker stopped: a refused code (a LedgerError's parts), or an error of its own (for the log). */
type Stop = { refusal: { kind: ErrorKind; code: string; message: string; field?: string } } | { failure: { message: string; stack?: string } };
type WorkerReply = { parsed: true } | { count: number } | Stop;

/**
 * Parses each code of a batch being registered and spools its canonical key, one a line, to `spool`; answers how
 * many codes there were. The parsing (a few µs a code: tens of seconds for 10,000,000) runs in a worker thread at a
 * lower priority, started with the first code: on the thread that answers requests, it made every scan sent during
 * the body wait behind it. A refused code is refused as on that thread: the earliest refused line wins, whether the
 * worker refused it or the body's reading did (a line too long). The worker's refusal is seen when the body's next
 * chunk is read (or, with the body all in, once the codes sent ahead are parsed).
 */
export async function spoolCodes(spool: string, codes: AsyncIterable<CodeLine> | Iterable<CodeLine>, terms: BatchTerms): Promise<number> {
  const file = openSync(spool, "w");
  let parser: Parser | undefined;
  try {
    let message = emptyMessage();
    try {
      for await (const code of codes) {
        parser ??= startParser(file, terms);
        parser.check();
        message.texts.push(code.text);
        message.wheres.push(code.where);
        message.fields.push(code.field);
        if (message.texts.length === CODES_PER_MESSAGE) {
          await parser.send(message);
          message = emptyMessage();
        }
      }
      if (!parser) return 0;
      if (message.texts.length > 0) await parser.send(message);
    } catch (error) {
      // The codes read before this error are earlier lines: a refusal of one of them is the answer.
      if (parser && parser.stopped() === undefined) {
        if (message.texts.length > 0) await parser.send(message).catch(() => undefined);
        await parser.end().catch(() => undefined);
      }
      throw parser?.stopped() ?? error;
    }
    return await parser.end();
  } finally {
    // The worker writes to the file: ended first, so that the file is closed once, here, whatever became of it.
    await parser?.worker.terminate();
    closeSync(file);
  }
}

const emptyMessage = (): CodesMessage => ({ texts: [], wheres: [], fields: [] });

type Parser = ReturnType<typeof startParser>;

/** The worker, seen from the calling thread: codes sent with backpressure, then their count, or why it stopped. */
function startParser(file: number, terms: BatchTerms) {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { tsx: require.resolve("tsx/cjs/api"), module: __filename, file, terms },
  });
  let inFlight = 0;
  let stop: Error | undefined;
  let wake: (() => void) | undefined;
  let counted: (count: number) => void;
  let failed: (error: Error) => void;
  const count = new Promise<number>((resolve, reject) => {
    counted = resolve;
    failed = reject;
  });
  count.catch(() => undefined);
  const stopWith = (error: Error) => {
    stop ??= error;
    failed(stop);
    wake?.();
  };
  worker.on("message", (reply: WorkerReply) => {
    if ("parsed" in reply) {
      inFlight--;
      wake?.();
    } else if ("count" in reply) counted(reply.count);
    else stopWith(stopError(reply));
  });
  worker.once("error", stopWith);
  worker.once("exit", (code) => stopWith(new Error(`the code parsing worker exited with ${code}`)));
  return {
    worker,
    async send(message: CodesMessage) {
      while (inFlight >= MESSAGES_IN_FLIGHT && stop === undefined) await new Promise<void>((resolve) => (wake = resolve));
      this.check();
      inFlight++;
      worker.postMessage(message);
    },
    /** Throws why the worker stopped, if it did. */
    check() {
      if (stop !== undefined) throw stop;
    },
    end() {
      worker.postMessage("end");
      return count;
    },
    stopped: () => stop,
  };
}

function stopError(stop: Stop): Error {
  if ("refusal" in stop) return new LedgerError(stop.refusal.kind, stop.refusal.code, stop.refusal.message, stop.refusal.field);
  return Object.assign(new Error(`parsing the codes failed: ${stop.failure.message}`), { stack: stop.failure.stack });
}

// Plain JavaScript that registers tsx's CommonJS loader and then runs this module's parseInWorker, as
// src/codes/tree-worker.ts runs its tree builder.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
${LOWER_THREAD_PRIORITY}
require(workerData.tsx).register();
require(workerData.module).parseInWorker(parentPort, workerData);
`;

/** The worker thread: parses each message's codes in turn, appends their keys to the spool, and says so. */
export function parseInWorker(port: MessagePort, { file, terms }: { file: number; terms: BatchTerms }) {
  const rules = { productCode: terms.productCode, expiryMismatch: expiryMismatchOf(terms.expiresAt) };
  let count = 0;
  let stopped = false;
  port.on("message", (message: CodesMessage | "end") => {
    if (stopped) return;
    try {
      if (message === "end") {
        port.postMessage({ count } satisfies WorkerReply);
        return;
      }
      const keys = message.texts.map((text, i) => canonicalKeyOf({ text, where: message.wheres[i]!, field: message.fields[i]! }, rules));
      writeSync(file, `${keys.join("\n")}\n`);
      count += keys.length;
      port.postMessage({ parsed: true } satisfies WorkerReply);
    } catch (error) {
      stopped = true;
      port.postMessage(
        (error instanceof LedgerError
          ? { refusal: { kind: error.kind, code: error.code, message: error.message, field: error.field } }
          : { failure: { message: String((error as Error)?.message ?? error), stack: (error as Error)?.stack } }) satisfies WorkerReply,
      );
    }
  });
}

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

/** A pack's code as sent, parsed; or a 400 naming where it is (its line or index). */
export function packCodeOf({ text, where, field }: CodeLine): NmpaPack | Gs1Pack {
  try {
    const code = parseCode(text);
    if (code.kind !== "pack") throw badInput("CODE_NOT_A_PACK", `${where} is a logistic unit, not a pack`, field);
    return code;
  } catch (error) {
    if (error instanceof CodeError) throw badInput(error.code, `${where}: ${error.message}`, field);
    throw error;
  }
}

/** Parses one code of a batch being registered; the product must be the batch's, and so must a printed expiry. */
function canonicalKeyOf(
  line: CodeLine,
  { productCode, expiryMismatch }: { productCode: string; expiryMismatch: (printed: string) => string | undefined },
): string {
  const code = packCodeOf(line);
  const { where, field } = line;
  if (code.productCode !== productCode) {
    throw badInput("CODE_PRODUCT_MISMATCH", `${where} is of product ${code.productCode}, the batch is of ${productCode}`, field);
  }
  const printed = code.scheme === "gs1" ? code.expiry : undefined;
  const mismatch = printed && expiryMismatch(printed.iso);
  if (mismatch) throw badInput("CODE_EXPIRY_MISMATCH", `${where} ${code.key} (17) ${printed.yymmdd}: ${mismatch}`, field);
  return code.key;
}
