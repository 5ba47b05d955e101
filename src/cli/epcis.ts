import * as fs from "node:fs";
import { InvalidArgumentError, type Command } from "commander";
import { RELAY_PATH } from "../ledger";
import type { LedgerContract, SignedAttestation } from "../ledger";
import type { Submission } from "./transport";
import { LedgerError } from "../ledger/errors";
import type { Act } from "./codes";
import { EXIT_OK, type CliIo } from "./io";
import { printRecord, printRows, toJson } from "./output";
import { apiOf, tokenOf, type ReadOptions } from "./reads";
import { readOptions } from "./supervision";
import { batchArg, positiveIntegerArg, timeArg, type BatchRef } from "./args";
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
    .description(
      "GS1 EPCIS 2.0: export a batch's events; capture documents from your own systems as signed attestations; custody; query, named queries and subscriptions",
    );
  addEpcisExport(epcis, io, act);
  addEpcisCustody(epcis, io, act);
  addEpcisQuery(epcis, io, act);
  addEpcisNamedQueries(epcis, io, act);
  addEpcisSubscriptions(epcis, io, act);
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

type Custody = { organizationId: number; address: string; createdAt: number; registered: boolean };

/** How a custody key comes to act: the organization registers it with a key it holds. */
const registerHint = (custody: Custody) =>
  custody.registered
    ? "registered: captures are signed and sent by the server"
    : `not registered: captures stay unsigned until you run \`trace organizations add-key ${custody.address}\` with a key the ledger lists`;

/** `trace epcis custody show|keep|forget`: the organization's choice that the server keeps a signing key for it. */
function addEpcisCustody(epcis: Command, io: CliIo, act: Act) {
  const custody = epcis
    .command("custody")
    .description("custody: a signing key the server keeps for your organization, so EPCIS capture signs and sends by itself");
  const printCustody = (options: ReadOptions, answer: Custody) =>
    printRecord(
      io,
      options.json,
      options.json ? answer : { organization: answer.organizationId, address: answer.address, key: registerHint(answer) },
    );
  for (const [name, description, method] of [
    ["show", "your organization's custody key and whether the ledger lists it as one of its signing keys", "GET"],
    ["keep", "choose custody: the server makes and keeps (sealed) a signing key for your organization; an existing key is kept", "PUT"],
  ] as const) {
    readOptions(custody.command(name).description(description)).action(
      act(async (options: ReadOptions) => {
        const api = apiOf(io, options);
        const token = await tokenOf(io, api, options, true);
        // keepSigningKey is the organization's explicit consent: the API keeps no key without it.
        printCustody(options, await api.request<Custody>(method, "/epcis/custody", method === "PUT" ? { keepSigningKey: true } : undefined, token));
        return EXIT_OK;
      }),
    );
  }
  readOptions(
    custody
      .command("forget")
      .description("withdraw from custody: the server erases the key (revoke it on the ledger too: trace organizations revoke-key)"),
  ).action(
    act(async (options: ReadOptions) => {
      const api = apiOf(io, options);
      const token = await tokenOf(io, api, options, true);
      printRecord(io, options.json, await api.request<{ organizationId: number; erased: boolean }>("DELETE", "/epcis/custody", undefined, token));
      return EXIT_OK;
    }),
  );
}

/** SimpleEventQuery parameters as options, each repeatable (several values match any of them). */
type FilterOptions = {
  bizStep?: string[];
  disposition?: string[];
  action?: string[];
  epc?: string[];
  anyEpc?: string[];
  from?: number;
  to?: number;
  readPoint?: string[];
  bizLocation?: string[];
};
const repeated = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];
const ACTIONS = ["ADD", "OBSERVE", "DELETE"];
const actionArg = (value: string, previous: string[] | undefined) => {
  if (!ACTIONS.includes(value)) throw new InvalidArgumentError(`expected one of ${ACTIONS.join(", ")}`);
  return repeated(value, previous);
};
const FILTERS: [keyof FilterOptions, string, string][] = [
  ["bizStep", "--biz-step <step>", "EQ_bizStep: a CBV business step (shipping, receiving, …)"],
  ["disposition", "--disposition <disposition>", "EQ_disposition (in_transit, recalled, …)"],
  ["epc", "--epc <epc>", "MATCH_epc: a pack's SGTIN or a lot's URI"],
  ["anyEpc", "--any-epc <epc>", "MATCH_anyEPC: an EPC in any of the event's lists"],
  ["readPoint", "--read-point <id>", "EQ_readPoint"],
  ["bizLocation", "--biz-location <id>", "EQ_bizLocation"],
];

function filterOptions(command: Command): Command {
  for (const [, flags, description] of FILTERS) command.option(flags, `${description}; repeat for several`, repeated);
  return command
    .option("--action <action>", "EQ_action: ADD, OBSERVE or DELETE; repeat for several", actionArg)
    .option("--from <time>", "GE_eventTime: events at or after (a date, China time; an ISO date-time; unix seconds)", timeArg)
    .option("--to <time>", "LT_eventTime: events before", timeArg);
}

const FILTER_NAMES: Record<Exclude<keyof FilterOptions, "from" | "to">, string> = {
  bizStep: "EQ_bizStep",
  disposition: "EQ_disposition",
  action: "EQ_action",
  epc: "MATCH_epc",
  anyEpc: "MATCH_anyEPC",
  readPoint: "EQ_readPoint",
  bizLocation: "EQ_bizLocation",
};

/** The options as the API's SimpleEventQuery parameters (times as ISO 8601, as the standard has them). */
function filtersOf(options: FilterOptions): Record<string, string[] | string> {
  const filters: Record<string, string[] | string> = {};
  for (const [option, name] of Object.entries(FILTER_NAMES)) {
    const values = options[option as keyof typeof FILTER_NAMES];
    if (values !== undefined) filters[name] = values;
  }
  if (options.from !== undefined) filters.GE_eventTime = new Date(options.from * 1000).toISOString();
  if (options.to !== undefined) filters.LT_eventTime = new Date(options.to * 1000).toISOString();
  return filters;
}

function queryString(filters: Record<string, string[] | string>, perPage: number | undefined): string {
  const search = new URLSearchParams();
  for (const [name, values] of Object.entries(filters)) for (const value of [values].flat()) search.append(name, value);
  if (perPage !== undefined) search.set("perPage", String(perPage));
  const text = search.toString();
  return text === "" ? "" : `?${text}`;
}

type EpcisEvent = Record<string, unknown>;
type QueryDocument = { epcisBody: { queryResults: { queryName: string; resultsBody: { eventList: EpcisEvent[] } } } };

/** A query's events: the EPCISQueryDocument with --json, else one row an event. */
function printEvents(io: CliIo, json: boolean, document: QueryDocument) {
  if (json) return io.out(toJson(document));
  const events = document.epcisBody.queryResults.resultsBody.eventList;
  const epcs = (event: EpcisEvent) => [event.epcList, event.quantityList, event.childEPCs].flat().filter((e) => e !== undefined).length;
  printRows(
    io,
    ["time", "type", "action", "bizStep", "disposition", "EPCs", "organization"],
    events.map((e) => [e.eventTime, e.type, e.action, e.bizStep, e.disposition, epcs(e), e["trace:organization"]]),
  );
  io.out(`${events.length} events`);
}

type PageOptions = ReadOptions & { perPage?: number };
const perPageOption = (command: Command) =>
  command.option("--per-page <n>", "at most this many events, oldest first (API default 100, at most 1000)", positiveIntegerArg);

/** `trace epcis query`: GET /epcis/events, the standard's SimpleEventQuery, scoped to your organization as the API is. */
function addEpcisQuery(epcis: Command, io: CliIo, act: Act) {
  readOptions(
    perPageOption(filterOptions(epcis.command("query").description("EPCIS events by business step, disposition, EPC, time and location"))),
  ).action(
    act(async (options: PageOptions & FilterOptions) => {
      const api = apiOf(io, options);
      const token = await tokenOf(io, api, options, true);
      printEvents(
        io,
        options.json,
        await api.request<QueryDocument>("GET", `/epcis/events${queryString(filtersOf(options), options.perPage)}`, undefined, token),
      );
      return EXIT_OK;
    }),
  );
}

type NamedQuery = { name: string; query: Record<string, unknown>; createdAt: number };
const namedQueryPath = (name: string) => `/epcis/queries/${encodeURIComponent(name)}`;

/** An organization's own request to the API with its signed-in token. */
async function own<T>(io: CliIo, options: ReadOptions, method: "GET" | "POST" | "DELETE", path: string, body?: unknown): Promise<T> {
  const api = apiOf(io, options);
  return api.request<T>(method, path, body, await tokenOf(io, api, options, true));
}

/** `trace epcis queries create|list|show|delete|run`: the organization's named queries. */
function addEpcisNamedQueries(epcis: Command, io: CliIo, act: Act) {
  const queries = epcis
    .command("queries")
    .description("EPCIS named queries: SimpleEventQuery parameters saved under a name, your organization's own");
  const printQuery = (options: ReadOptions, q: NamedQuery) =>
    printRecord(io, options.json, options.json ? q : { name: q.name, query: q.query, created: new Date(q.createdAt * 1000).toISOString() });
  readOptions(
    filterOptions(queries.command("create").description("save the filters under a name").argument("<name>", "1 to 64 letters, digits, _ or -")),
  ).action(
    act(async (name: string, options: ReadOptions & FilterOptions) => {
      printQuery(options, await own<NamedQuery>(io, options, "POST", "/epcis/queries", { name, query: filtersOf(options) }));
      return EXIT_OK;
    }),
  );
  readOptions(queries.command("list").description("your organization's named queries")).action(
    act(async (options: ReadOptions) => {
      const { queries: saved } = await own<{ queries: NamedQuery[] }>(io, options, "GET", "/epcis/queries");
      if (options.json) io.out(toJson({ queries: saved }));
      else
        printRows(
          io,
          ["name", "query"],
          saved.map((q) => [q.name, q.query]),
        );
      return EXIT_OK;
    }),
  );
  readOptions(queries.command("show").description("one of your named queries").argument("<name>")).action(
    act(async (name: string, options: ReadOptions) => {
      printQuery(options, await own<NamedQuery>(io, options, "GET", namedQueryPath(name)));
      return EXIT_OK;
    }),
  );
  readOptions(queries.command("delete").description("delete a named query and end its subscriptions").argument("<name>")).action(
    act(async (name: string, options: ReadOptions) => {
      printRecord(io, options.json, await own<Record<string, unknown>>(io, options, "DELETE", namedQueryPath(name)));
      return EXIT_OK;
    }),
  );
  readOptions(perPageOption(queries.command("run").description("run a named query: its events now").argument("<name>"))).action(
    act(async (name: string, options: PageOptions) => {
      printEvents(
        io,
        options.json,
        await own<QueryDocument>(io, options, "GET", `${namedQueryPath(name)}/events${queryString({}, options.perPage)}`),
      );
      return EXIT_OK;
    }),
  );
}

type Subscription = { subscriptionID: string; queryName: string; dest: string | null; stream: string; createdAt: number; secret?: string | null };

/** `trace epcis subscriptions create|list|delete`: a named query's new events on the event stream, and a webhook. */
function addEpcisSubscriptions(epcis: Command, io: CliIo, act: Act) {
  const subscriptions = epcis
    .command("subscriptions")
    .description("subscriptions to a named query: its new events reach your event stream as epcis.<query>, and a webhook with --dest");
  readOptions(
    subscriptions
      .command("create")
      .description("subscribe to a named query (the webhook's signing secret is shown once)")
      .argument("<query>", "the named query")
      .option("--dest <url>", "a public https webhook the matching events are POSTed to"),
  ).action(
    act(async (name: string, options: ReadOptions & { dest?: string }) => {
      const body = options.dest === undefined ? {} : { dest: options.dest };
      printRecord(io, options.json, await own<Subscription>(io, options, "POST", `${namedQueryPath(name)}/subscriptions`, body));
      return EXIT_OK;
    }),
  );
  readOptions(subscriptions.command("list").description("the subscriptions to one of your named queries").argument("<query>")).action(
    act(async (name: string, options: ReadOptions) => {
      const answer = await own<{ subscriptions: Subscription[] }>(io, options, "GET", `${namedQueryPath(name)}/subscriptions`);
      if (options.json) io.out(toJson(answer));
      else
        printRows(
          io,
          ["id", "webhook", "stream"],
          answer.subscriptions.map((s) => [s.subscriptionID, s.dest ?? "(stream only)", s.stream]),
        );
      return EXIT_OK;
    }),
  );
  readOptions(
    subscriptions
      .command("delete")
      .description("end a subscription (its webhook stops)")
      .argument("<query>")
      .argument("<id>", "the subscription's id"),
  ).action(
    act(async (name: string, id: string, options: ReadOptions) => {
      printRecord(
        io,
        options.json,
        await own<Record<string, unknown>>(io, options, "DELETE", `${namedQueryPath(name)}/subscriptions/${encodeURIComponent(id)}`),
      );
      return EXIT_OK;
    }),
  );
}
