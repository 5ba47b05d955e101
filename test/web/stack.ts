import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import path from "node:path";
import { chromium } from "playwright-core";
import request from "supertest";
import type { Browser, Page } from "playwright-core";
import { createApp } from "../../src/api/app";
import { createRelay, relayRoutes } from "../../src/api/relay";
import type { AnyRoute } from "../../src/api/routes";
import { webPages } from "../../src/web";
import { demoOrganizationsFile } from "../../src/web/demo";
import { apiHarness } from "../api/harness";
import type { ApiHarness } from "../api/harness";
import { hardhatAccountKey } from "../cli/helpers";
import type { Party } from "../contracts/fixtures";
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
  await registerCodes(harness);
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

/** Scans can only place a code in a batch once the batch's codes are registered against its on-chain root. */
async function registerCodes(harness: ApiHarness) {
  const cmo = await harness.tokenFor(harness.c.cmo);
  for (const { batchId, printed } of Object.values(harness.batches)) {
    await request(harness.app).post(`/v1/batches/${batchId}/codes`).set("authorization", `Bearer ${cmo}`).send({ codes: printed }).expect(201);
  }
}

/**
 * The web stack for pages that sign: the relay mounted (a funded Hardhat account pays), the indexer following the
 * chain so a relayed attestation shows on the pages, and every party of the consortium offered as a demo sign-in.
 */
export async function signingStack(extraRoutes: AnyRoute[] = []) {
  const harness = await apiHarness();
  await registerCodes(harness);
  const relay = createRelay({
    rpcUrl: harness.chain.url,
    relayerKey: hardhatAccountKey(1),
    deployment: harness.services.deployment!,
    store: harness.store,
    pollIntervalMs: 20,
  });
  const following = new AbortController();
  const follow = harness.indexer.follow(following.signal);
  const app = createApp(harness.services, [...relayRoutes(relay), ...extraRoutes], [webPages]);
  const server = await listen(app);
  const { c } = harness;
  const names = await writeDemoOrganizations(app, harness, [c.mah, c.cmo, c.distributor, c.distributor2, c.dispenser, c.regulator, c.regulator2]);
  return {
    harness,
    app,
    url: server.url,
    /** The organization's name, as its demo sign-in button says it. */
    nameOf: (party: Party) => names.get(party.id)!,
    /** Waits until the read model has indexed the chain's head (after signing outside the pages). */
    async indexed() {
      const head = await c.relayer.provider!.getBlockNumber();
      for (;;) {
        const sync = await harness.store.db.selectFrom("sync_state").select("block_number").executeTakeFirst();
        if (sync && sync.block_number >= head) return;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async close() {
      await server.close();
      following.abort();
      await follow;
      relay.close();
      await harness.close();
    },
  };
}

/** What the demo writes: the organizations and their development keys, for one-click sign-in. */
export async function writeDemoOrganizations(app: ReturnType<typeof createApp>, harness: ApiHarness, parties: Party[]) {
  const organizations = [];
  for (const party of parties) {
    const { body } = await request(app).get(`/v1/organizations/${party.id}`).expect(200);
    organizations.push({
      organizationId: party.id,
      name: body.name as string,
      role: body.role as string,
      region: body.region as number,
      address: party.key.address,
      privateKey: (party.key as unknown as { privateKey: string }).privateKey,
    });
  }
  const file = demoOrganizationsFile(harness.services.config.dataDir);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(organizations));
  return new Map(organizations.map((o) => [o.organizationId, o.name]));
}

/** Signs in by the demo's one-click button, as the named organization, and lands on `next`. */
export async function signInAsDemo(page: Page, url: string, name: string, next = "/") {
  await page.evaluate("sessionStorage.clear()").catch(() => undefined);
  await page.goto(`${url}/sign-in?next=${encodeURIComponent(next)}`);
  await page.getByRole("button", { name: new RegExp(`以 ${name}（`) }).click();
  await page.waitForURL(`${url}${next}`);
}

/**
 * The controls of the page's main part that the browser's accessibility tree finds without a name (role and
 * HTML), from Chromium's own computation of accessible names.
 */
export async function unnamedControls(page: Page): Promise<string[]> {
  const cdp = await page.context().newCDPSession(page);
  try {
    await cdp.send("Accessibility.enable");
    const { nodes } = (await cdp.send("Accessibility.getFullAXTree")) as {
      nodes: Array<{ ignored: boolean; role?: { value: string }; name?: { value: string }; backendDOMNodeId?: number }>;
    };
    const CONTROLS = new Set(["button", "textbox", "combobox", "link", "checkbox", "radio", "spinbutton", "slider", "searchbox", "listbox"]);
    return nodes
      .filter((node) => !node.ignored && CONTROLS.has(node.role?.value ?? "") && !String(node.name?.value ?? "").trim())
      .map((node) => `${node.role?.value} #${node.backendDOMNodeId}`);
  } finally {
    await cdp.detach();
  }
}

/**
 * The elements Tab reaches from the top of the page, in order, until focus leaves the page or comes round again:
 * each as its id, or its tag and text when it has none.
 */
export async function tabOrder(page: Page, limit = 80): Promise<string[]> {
  // Start at the page's first stop, its skip link, wherever focus was before (blurring leaves the browser's
  // starting point for Tab where the focus last was).
  await page.evaluate("window.scrollTo(0, 0); window.__tabbed = [document.querySelector('a.skip')]; document.querySelector('a.skip').focus()");
  const reached: string[] = [];
  for (let i = 0; i < limit; i++) {
    await page.keyboard.press("Tab");
    const here = (await page.evaluate(DESCRIBE_FOCUSED)) as string | null;
    if (here === null) break;
    if (here !== "") reached.push(here);
  }
  return reached;
}

/** The enabled controls of the page's main part, as tabOrder names them: what keyboard users must be able to reach. */
export async function mainControls(page: Page): Promise<string[]> {
  return (await page.evaluate(DESCRIBE_MAIN_CONTROLS)) as string[];
}

// Run in the page (the tests' TypeScript has no DOM types): an element as tabOrder and mainControls name it.
const DESCRIBE = `(element) => element.id ? "#" + element.id : element.tagName.toLowerCase() + ":" + (element.textContent ?? "").trim().slice(0, 40)`;
// Focus that comes back to an element already reached (by identity: two links may read alike) has gone round.
// A date input takes several Tabs (day, month, year) and stays the focused element meanwhile.
const DESCRIBE_FOCUSED = `(() => {
  const element = document.activeElement;
  window.__tabbed ??= [];
  if (element && element === window.__tabbed[window.__tabbed.length - 1]) return "";
  if (!element || element === document.body || window.__tabbed.includes(element)) return null;
  window.__tabbed.push(element);
  return (${DESCRIBE})(element);
})()`;
const DESCRIBE_MAIN_CONTROLS = `[...document.querySelectorAll("#main a[href], #main button:not([disabled]), #main input:not([disabled]), #main select:not([disabled])")]
  .filter((element) => element.offsetParent !== null)
  .map(${DESCRIBE})`;

/** Saves a full-page screenshot as a test artifact. */
export async function screenshot(page: Page, name: string) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Screenshots of the page in Chinese and, switched by its own button, in English; leaves it in Chinese. */
export async function screenshotBothLanguages(page: Page, name: string) {
  await screenshot(page, `${name}-zh`);
  await page.locator("#language").click();
  await page.locator("html[lang=en]").waitFor();
  await screenshot(page, `${name}-en`);
  await page.locator("#language").click();
  await page.locator("html[lang=zh-CN]").waitFor();
}
