import type { Request, Response, NextFunction } from "express";
import type { AppMount } from "../api/app";
import { bearerToken, tokenCaller } from "../api/auth";
import type { ApiServices } from "../api/context";
import { badInput, LedgerError } from "../ledger/errors";
import { notificationData, withEventArgs } from "./outbox";

export const STREAM_PATH = "/v1/notifications/stream";

export type StreamOptions = { pollMs?: number; heartbeatMs?: number };

/**
 * GET /v1/notifications/stream: the signed-in organization's notifications as server-sent events, each with its
 * outbox id as the event id, so a client that reconnects with Last-Event-ID (or ?after=) misses nothing. The stream
 * reads the outbox table, so it works on every API server that shares the database. The token is checked again
 * before every delivery: when it expires, its key is revoked or its organization suspended, the stream sends a last
 * `stream.closed` event naming why (the refusal's code and message) and ends.
 */
export function notificationStream(options: StreamOptions = {}): { mount: AppMount; close(): void } {
  const pollMs = options.pollMs ?? 500;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const open = new Set<Response>();
  const mount: AppMount = (app, services) => {
    app.get(STREAM_PATH, async (req: Request, res: Response, next: NextFunction) => {
      try {
        const token = bearerToken(req, true)!;
        const caller = await tokenCaller(services, token);
        const after = resumePoint(req);
        open.add(res);
        res.on("close", () => open.delete(res));
        const reader: Reader = { organizationId: caller.organizationId, stillAllowed: () => tokenCaller(services, token) };
        stream(services, reader, after, res, pollMs, heartbeatMs);
      } catch (error) {
        next(error);
      }
    });
  };
  mount.openApiPaths = { [STREAM_PATH]: { get: STREAM_OPERATION } };
  // Open streams would keep the HTTP server from closing; clients reconnect with Last-Event-ID.
  return { mount, close: () => open.forEach((res) => res.end()) };
}

const STREAM_OPERATION = {
  summary: "The signed-in organization's notifications as server-sent events; resume with Last-Event-ID",
  tags: ["notifications"],
  security: [{ organizationToken: [] }],
  parameters: [
    {
      name: "Last-Event-ID",
      in: "header",
      required: false,
      schema: { type: "string", pattern: "^[0-9]+$" },
      description: "the id of the last event received",
    },
    {
      name: "after",
      in: "query",
      required: false,
      schema: { type: "string", pattern: "^[0-9]+$" },
      description: "the same, for clients that cannot set headers",
    },
  ],
  responses: {
    "200": {
      description:
        "a text/event-stream: each event's id is its outbox id, its event name the notification kind, its data the notification as JSON. " +
        "When the token expires, its key is revoked or its organization suspended, a last event `stream.closed` (no id) carries {code, message} and the stream ends.",
      content: { "text/event-stream": { schema: { type: "string" } } },
    },
    "400": { description: "a malformed Last-Event-ID" },
    "401": { description: "not signed in" },
  },
};

function resumePoint(req: Request): number {
  const text = req.get("last-event-id") ?? (typeof req.query.after === "string" ? req.query.after : undefined);
  if (text === undefined || text === "") return 0;
  if (!/^\d{1,15}$/.test(text)) throw badInput("INVALID_LAST_EVENT_ID", "Last-Event-ID (or ?after=) must be a notification id", "Last-Event-ID");
  return Number(text);
}

/** Whose stream it is, and the check that it may still read it (throws the refusal when not). */
type Reader = { organizationId: number; stillAllowed(): Promise<unknown> };

/** The refusal that ends a reader's stream, if any; other failures (the database away) are thrown to be retried. */
async function refusalOf(reader: Reader): Promise<LedgerError | undefined> {
  try {
    await reader.stillAllowed();
    return undefined;
  } catch (error) {
    if (error instanceof LedgerError && (error.kind === "unauthenticated" || error.kind === "not_allowed")) return error;
    throw error;
  }
}

function stream(services: ApiServices, reader: Reader, after: number, res: Response, pollMs: number, heartbeatMs: number) {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive", "x-accel-buffering": "no" });
  res.write(`retry: 2000\n\n`);
  let last = after;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  const heartbeat = setInterval(() => res.write(`: keep-alive\n\n`), heartbeatMs);
  res.on("close", () => {
    closed = true;
    clearInterval(heartbeat);
    if (timer) clearTimeout(timer);
  });
  const poll = async () => {
    try {
      for (;;) {
        const rows = await withEventArgs(
          services.store.db
            .selectFrom("notifications")
            .select(["notifications.id", "notifications.kind", "notifications.idempotency_key", "notifications.created_at", "notifications.payload"]),
        )
          .where("notifications.organization_id", "=", reader.organizationId)
          .where("notifications.id", ">", last)
          .orderBy("notifications.id")
          .limit(200)
          .execute();
        // Checked after reading, before writing: what was indexed after a revocation or suspension never goes out.
        const refusal = await refusalOf(reader);
        if (closed) return;
        if (refusal) {
          res.end(`event: stream.closed\ndata: ${JSON.stringify({ code: refusal.code, message: refusal.message })}\n\n`);
          return;
        }
        for (const row of rows) {
          const data = `{"id":${row.id},"idempotencyKey":${JSON.stringify(row.idempotency_key)},"kind":${JSON.stringify(row.kind)},"createdAt":${row.created_at},"data":${notificationData(row.payload, row.event_args)}}`;
          res.write(`id: ${row.id}\nevent: ${row.kind}\ndata: ${data}\n\n`);
          last = Number(row.id);
        }
        if (rows.length < 200) break;
      }
    } catch (error) {
      services.log.warn({ err: error }, "notification stream poll failed; retrying");
    }
    if (!closed) timer = setTimeout(() => void poll(), pollMs);
  };
  void poll();
}
