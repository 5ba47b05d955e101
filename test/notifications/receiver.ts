import http from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { verifyWebhook } from "../../src/notifications/signature";

/**
 * How the receiver treats a delivery: `error` answers 500 without processing it; `lost` processes it and then drops
 * the connection before answering (the sender cannot know, and will send it again); `ok` processes and answers 204.
 */
export type ReceiverMode = "ok" | "error" | "lost";

/**
 * A webhook receiver on 127.0.0.1 that checks every signature and de-duplicates by idempotency key, as a real one
 * should. It can be taken down (connection refused) and brought back on the same port.
 */
export async function webhookReceiver() {
  let secret = "";
  let mode: ReceiverMode = "ok";
  /** Every request as it arrived. */
  const received: { key: string; kind: string; signed: boolean; mode: ReceiverMode }[] = [];
  /** Processed notifications by idempotency key: what the receiver's business logic saw, once each. */
  const processed = new Map<string, { id: number; kind: string }>();
  let duplicates = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    // No kept-alive sockets: once the receiver is down, every attempt meets a refused connection.
    res.setHeader("connection", "close");
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const key = String(req.headers["idempotency-key"]);
      const signed = verifyWebhook(secret, body, req.headers["x-trace-signature"] as string | undefined, Math.floor(Date.now() / 1000));
      const current = mode;
      received.push({ key, kind: String(req.headers["x-trace-event"]), signed, mode: current });
      if (!signed) return void res.writeHead(401).end();
      if (current === "error") return void res.writeHead(500).end("not now");
      const parsed = JSON.parse(body) as { id: number; kind: string; idempotencyKey: string };
      if (parsed.idempotencyKey !== key) return void res.writeHead(400).end();
      // A duplicate is acknowledged, not processed again.
      if (processed.has(key)) duplicates++;
      else processed.set(key, { id: parsed.id, kind: parsed.kind });
      if (current === "lost") return void req.socket.destroy();
      res.writeHead(204).end();
    });
  });
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once("error", reject).listen(port, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
    });
  const port = await listen(0);
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    processed,
    duplicates: () => duplicates,
    setSecret: (value: string) => (secret = value),
    setMode: (value: ReceiverMode) => (mode = value),
    /** Stops listening: deliveries now meet a refused connection. */
    async down() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    async up() {
      await listen(port);
    },
    async close() {
      if (server.listening) await this.down();
    },
  };
}

export type WebhookReceiver = Awaited<ReturnType<typeof webhookReceiver>>;

/** Waits until `condition` holds, checking every 25 ms; fails with `what` after `limitMs` (a hang, not a timing). */
export async function waitFor(what: string, condition: () => Promise<boolean> | boolean, limitMs = 60_000) {
  const deadline = Date.now() + limitMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(25);
  }
}
