import { closeSync, openSync, writeSync } from "node:fs";
import { StringDecoder } from "node:string_decoder";
import type { MessagePort } from "node:worker_threads";
import { CodeError } from "../codes/errors";
import { MAX_CODE_LENGTH, parseCode } from "../codes/parse";
import type { Gs1Pack, NmpaPack } from "../codes/types";
import { badInput, LedgerError } from "../ledger/errors";
import type { ErrorKind } from "../ledger/errors";
import { printedExpiryMismatch } from "../ledger/expiry";
import { backgroundWorker } from "../ops/thread-priority";

/** One code as a client sent it, and where: `codes[3]` (field codes.3) in JSON, `line 4` (field line.4) in text. */
export type CodeLine = { text: string; where: string; field: string };

/** Codes to register: a list, each with where it is (JSON, a kept keys file), or a text body, one a line, streamed. */
export type CodeSource = { lines: AsyncIterable<CodeLine> | Iterable<CodeLine> } | { text: AsyncIterable<Uint8Array> };

/**
 * What each code of a batch must agree with: the batch's product (absent: the first code's, which every other must
 * share) and, for a printed (17), its expiry.
 */
export type BatchTerms = { productCode?: string; expiresAt: number };

/**
 * Codes of a list sent to the worker in one message (a text body goes as the chunks it arrives in), and how many
 * messages may wait there unparsed: the rest wait in the body (its socket) or the list.
 */
const CODES_PER_MESSAGE = 5_000;
const MESSAGES_IN_FLIGHT = 16;
const CHUNK_BYTES = 64 * 1024;
/** A list this short is parsed on the calling thread (about 2 ms of work): a worker's start would cost more. */
const PARSED_IN_PLACE = 500;

type ToWorker = { texts: string[]; wheres: string[]; fields: string[] } | { chunk: Uint8Array } | "end";
type CodesMessage = Exclude<ToWorker, "end">;
/** Why the worker stopped: a refused code (a LedgerError's parts), or an error of its own (for the log). */
type Stop = { refusal: { kind: ErrorKind; code: string; message: string; field?: string } } | { failure: { message: string; stack?: string } };
type Spooled = { count: number; productCode: string | undefined };
type WorkerReply = { parsed: true } | Spooled | Stop;

/**
 * Parses each code of a batch being registered and spools its canonical key, one a line, to `spool`; answers how
 * many codes there were and their product. The parsing (a few µs a code: tens of seconds for 10,000,000) runs in a
 * worker thread at a lower priority, a text body's splitting into lines included (a list of at most PARSED_IN_PLACE
 * codes is parsed here): on the thread that answers requests, it made every scan sent during the body wait behind
 * it. So a refusal (the earliest refused line: the worker takes the lines in order) is seen when the next chunk is
 * read, or once the codes sent ahead are parsed.
 */
export async function spoolCodes(spool: string, source: CodeSource, terms: BatchTerms): Promise<Spooled> {
  const file = openSync(spool, "w");
  let parser: Parser | undefined;
  try {
    if ("text" in source) {
      for await (const chunk of gathered(source.text)) await (parser ??= startParser(file, terms)).send({ chunk });
      return parser ? await parser.end() : { count: 0, productCode: terms.productCode };
    }
    let message = emptyList();
    for await (const code of source.lines) {
      message.texts.push(code.text);
      message.wheres.push(code.where);
      message.fields.push(code.field);
      if (message.texts.length === CODES_PER_MESSAGE) {
        await (parser ??= startParser(file, terms)).send(message);
        message = emptyList();
      }
    }
    if (!parser && message.texts.length <= PARSED_IN_PLACE) return spoolInPlace(file, message, terms);
    parser ??= startParser(file, terms);
    if (message.texts.length > 0) await parser.send(message);
    return await parser.end();
  } finally {
    // The worker writes to the file: ended first, so that the file is closed once, here, whatever became of it.
    try {
      await parser?.worker.terminate();
    } finally {
      closeSync(file);
    }
  }
}

/**
 * A body's chunks, small ones joined up to CHUNK_BYTES: each message to the worker costs this thread a copy and an
 * answer, which a client sending a body in tiny chunks (chunked encoding) would otherwise have it pay per chunk. A
 * socket's reads are usually that large already and pass as they are.
 */
async function* gathered(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  let held: Uint8Array[] = [];
  let bytes = 0;
  for await (const chunk of chunks) {
    held.push(chunk);
    bytes += chunk.length;
    if (bytes < CHUNK_BYTES) continue;
    yield held.length === 1 ? held[0]! : Buffer.concat(held);
    held = [];
    bytes = 0;
  }
  if (held.length > 0) yield Buffer.concat(held);
}

const emptyList = () => ({ texts: [] as string[], wheres: [] as string[], fields: [] as string[] });

/** A short list's codes parsed and spooled on the calling thread, as the worker would. */
function spoolInPlace(file: number, list: ReturnType<typeof emptyList>, terms: BatchTerms): Spooled {
  const keyOf = codeRules(terms);
  const keys = list.texts.map((text, i) => keyOf({ text, where: list.wheres[i]!, field: list.fields[i]! }));
  if (keys.length > 0) writeSync(file, `${keys.join("\n")}\n`);
  return { count: keys.length, productCode: keyOf.productCode() };
}

type Parser = ReturnType<typeof startParser>;

/** The worker, seen from the calling thread: codes sent with backpressure, then their count, or why it stopped. */
function startParser(file: number, terms: BatchTerms) {
  const worker = backgroundWorker(__filename, parseInWorker, { file, terms });
  let inFlight = 0;
  let stop: Error | undefined;
  let wake: (() => void) | undefined;
  let counted: (spooled: Spooled) => void;
  let failed: (error: Error) => void;
  const spooled = new Promise<Spooled>((resolve, reject) => {
    counted = resolve;
    failed = reject;
  });
  spooled.catch(() => undefined);
  const stopWith = (error: Error) => {
    stop ??= error;
    failed(stop);
    wake?.();
  };
  worker.on("message", (reply: WorkerReply) => {
    if ("parsed" in reply) {
      inFlight--;
      wake?.();
    } else if ("count" in reply) counted(reply);
    else stopWith(stopError(reply));
  });
  worker.once("error", stopWith);
  worker.once("exit", (code) => stopWith(new Error(`the code parsing worker exited with ${code}`)));
  return {
    worker,
    async send(message: CodesMessage) {
      while (inFlight >= MESSAGES_IN_FLIGHT && stop === undefined) await new Promise<void>((resolve) => (wake = resolve));
      if (stop !== undefined) throw stop;
      inFlight++;
      worker.postMessage(message satisfies ToWorker);
    },
    end() {
      worker.postMessage("end" satisfies ToWorker);
      return spooled;
    },
  };
}

function stopError(stop: Stop): Error {
  if ("refusal" in stop) return new LedgerError(stop.refusal.kind, stop.refusal.code, stop.refusal.message, stop.refusal.field);
  const error = new Error(`parsing the codes failed: ${stop.failure.message}`);
  if (stop.failure.stack !== undefined) error.stack = stop.failure.stack;
  return error;
}

/** The worker thread: parses each message's codes in turn, appends their keys to the spool, and says so. */
export function parseInWorker(port: MessagePort, { file, terms }: { file: number; terms: BatchTerms }) {
  const keyOf = codeRules(terms);
  const body = textLines();
  let count = 0;
  let stopped = false;
  const spool = (codes: CodeLine[]) => {
    if (codes.length === 0) return;
    writeSync(file, `${codes.map(keyOf).join("\n")}\n`);
    count += codes.length;
  };
  port.on("message", (message: ToWorker) => {
    if (stopped) return;
    try {
      if (message === "end") {
        spool(body.end());
        port.postMessage({ count, productCode: keyOf.productCode() } satisfies WorkerReply);
        return;
      }
      if ("chunk" in message) body.add(message.chunk, spool);
      else spool(message.texts.map((text, i) => ({ text, where: message.wheres[i]!, field: message.fields[i]! })));
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
 * A text body's non-blank lines, numbered from 1, as its chunks arrive (UTF-8, a character split across chunks
 * joined). A line is at most MAX_CODE_LENGTH characters, as a JSON list's codes: a longer one is refused, and one
 * still unfinished at the end of a chunk before more of it is kept, after the complete lines before it (so that a
 * bad one among them is the line refused).
 */
const tooLong = (line: number) => badInput("CODE_TOO_LONG", `line ${line}: longer than ${MAX_CODE_LENGTH} characters`, `line.${line}`);

function textLines() {
  const decoder = new StringDecoder("utf8");
  let carry = "";
  let line = 0;
  const codes: CodeLine[] = [];
  const take = (part: string) => {
    line++;
    const text = (line === 1 ? part.replace(/^\uFEFF/, "") : part).replace(/\r$/, "");
    if (text.length > MAX_CODE_LENGTH) throw tooLong(line);
    if (text.trim() !== "") codes.push({ text, where: `line ${line}`, field: `line.${line}` });
  };
  return {
    add(chunk: Uint8Array, spool: (codes: CodeLine[]) => void) {
      const parts = (carry + decoder.write(chunk)).split("\n");
      carry = parts.pop()!;
      try {
        for (const part of parts) take(part);
      } finally {
        // The lines before a line too long are parsed first: a bad one among them is the line refused.
        spool(codes.splice(0));
      }
      if (carry.length > MAX_CODE_LENGTH + 2) throw tooLong(line + 1);
    },
    end(): CodeLine[] {
      take(carry + decoder.end());
      return codes.splice(0);
    },
  };
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
function packCodeOf({ text, where, field }: CodeLine): NmpaPack | Gs1Pack {
  try {
    const code = parseCode(text);
    if (code.kind !== "pack") throw badInput("CODE_NOT_A_PACK", `${where} is a logistic unit, not a pack`, field);
    return code;
  } catch (error) {
    if (error instanceof CodeError) throw badInput(error.code, `${where}: ${error.message}`, field);
    throw error;
  }
}

/**
 * Parses one code of a batch being registered into its canonical key; the product must be the batch's (or, with
 * none given, the first code's), and so must a printed expiry.
 */
function codeRules(terms: BatchTerms) {
  let productCode = terms.productCode;
  const expiryMismatch = expiryMismatchOf(terms.expiresAt);
  const keyOf = (line: CodeLine): string => {
    const code = packCodeOf(line);
    const { where, field } = line;
    productCode ??= code.productCode;
    if (code.productCode !== productCode) {
      throw badInput("CODE_PRODUCT_MISMATCH", `${where} is of product ${code.productCode}, the batch is of ${productCode}`, field);
    }
    const printed = code.scheme === "gs1" ? code.expiry : undefined;
    const mismatch = printed && expiryMismatch(printed.iso);
    if (mismatch) throw badInput("CODE_EXPIRY_MISMATCH", `${where} ${code.key} (17) ${printed.yymmdd}: ${mismatch}`, field);
    return code.key;
  };
  return Object.assign(keyOf, { productCode: () => productCode });
}
