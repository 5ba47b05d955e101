import { existsSync, mkdirSync } from "node:fs";
import type { Server } from "node:http";
import path from "node:path";
import { chromium } from "playwright-core";
import request from "supertest";
import type { Browser, Page } from "playwright-core";
import { createApp } from "../../src/api/app";
import { webPages } from "../../src/web";
import { apiHarness } from "../api/harness";
import { findChromium } from "../prerequisites";

export const CHROMIUM = findChromium() ?? "/usr/bin/chromium";
export const ARTIFACTS = path.resolve(__dirname, "../../test-artifacts/web");

/** A missing browser fails the suite with what to install, never skips it. */
export function requireChromium() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) to run the web page tests`);
  }
}

/**
 * Debian's chromium, headless. With `cameraFeed` (a Y4M file) the page's camera is a fake device filming it,
 * granted without a prompt.
 */
export async function launchBrowser(options: { cameraFeed?: string } = {}): Promise<{ browser: Browser; close(): Promise<void> }> {
  requireChromium();
  const camera = options.cameraFeed
    ? ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", `--use-file-for-fake-video-capture=${options.cameraFeed}`]
    : [];
  // Playwright gives the browser a fresh temporary profile of its own and removes it on close.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // CI runs as root, where chromium's sandbox cannot start; nothing here may reach the network.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      ...camera,
    ],
  });
  return {
    browser,
    close: () => browser.close(),
  };
}

/** A tab at a phone's width (375 × 740): every check made in it also proves the page works there. Closed with its browser. */
export async function phoneTab(browser: Browser): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 375, height: 740 } });
  return context.newPage();
}

/** Serves `app` on an ephemeral loopback port. */
export async function listen(app: ReturnType<typeof createApp>) {
  const server = await new Promise<Server>((resolve, reject) => {
    const listening = app.listen(0, "127.0.0.1", () => resolve(listening)).on("error", reject);
  });
  const address = server.address();
  if (typeof address !== "object" || !address) throw new Error("the server has no address");
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * The API harness's indexed consortium (released, recalled and unreleased batches) with the web pages mounted,
 * served on loopback as `npm start` serves them.
 */
export async function webStack() {
  const harness = await apiHarness();
  const cmo = await harness.tokenFor(harness.c.cmo);
  // Scans can only place a code in a batch once the batch's codes are registered against its on-chain root.
  for (const { batchId, printed } of Object.values(harness.batches)) {
    await request(harness.app).post(`/v1/batches/${batchId}/codes`).set("authorization", `Bearer ${cmo}`).send({ codes: printed }).expect(201);
  }
  const app = createApp(harness.services, [], [webPages]);
  const server = await listen(app);
  return {
    harness,
    app,
    url: server.url,
    async close() {
      await server.close();
      await harness.close();
    },
  };
}

/** Saves a full-page screenshot as a test artifact. */
export async function screenshot(page: Page, name: string) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}
