import { expect } from "chai";
import type { Express } from "express";
import request from "supertest";
import { createApp, createExpressApp } from "../../src/api/app";
import type { Api } from "../../src/api/app";
import type { ApiServices } from "../../src/api/context";

/** What a client sees of an answer: status, body and headers, less those that name the moment or the connection. */
export function seen(res: request.Response) {
  const { date: _date, connection: _connection, "keep-alive": _keepAlive, ...headers } = res.headers;
  return { status: res.status, body: res.body as unknown, text: res.text, headers };
}

/** The API as it serves (the fast path in front of express) beside the API as express alone serves it. */
export function pair(services: ApiServices) {
  const fast = createApp(services);
  const reachedExpress: string[] = [];
  const router = fast.express as unknown as { handle: (...args: unknown[]) => void };
  const handle = router.handle.bind(router);
  router.handle = (...args: unknown[]) => {
    reachedExpress.push(String((args[0] as { url: string }).url));
    handle(...args);
  };
  return { fast, express: createExpressApp(services), reachedExpress };
}

/** Sends the same request to both and expects the same answer; returns it. */
export async function sameAnswer(apis: { fast: Api; express: Express }, send: (app: Api | Express) => request.Test) {
  const [fast, slow] = [seen(await send(apis.fast)), seen(await send(apis.express))];
  // The seconds until the window closes are the same but for the time between the two requests (a second may tick).
  const timeless = (answer: typeof fast) => {
    const headers: Record<string, string | undefined> = { ...answer.headers, ratelimit: answer.headers.ratelimit?.replace(/reset=\d+/, "reset=…") };
    if (headers["retry-after"] !== undefined) headers["retry-after"] = "…";
    return { ...answer, headers };
  };
  expect(timeless(fast)).to.deep.equal(timeless(slow));
  if (fast.headers["retry-after"] !== undefined) {
    expect(Math.abs(Number(fast.headers["retry-after"]) - Number(slow.headers["retry-after"]))).to.be.at.most(1);
  }
  return fast;
}
