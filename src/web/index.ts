import express from "express";
import type { Express } from "express";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { AppMount } from "../api/app";
import { createAuthenticator } from "../api/auth";
import { mountRoutes } from "../api/routes";
import { demoRoutes } from "./demo";
import { labelHandler, LABEL_PATH } from "./labels";
import { LEDGER_BUNDLE_PATH, ledgerBundleHandler } from "./ledger-bundle";
import { packageDir } from "./packages";

const PUBLIC_DIR = path.join(__dirname, "public");
const PAGES_DIR = path.join(__dirname, "pages");

/**
 * A page: its address; its name, which is also its heading's i18n key (`title.<name>`); its script, which reads
 * the ids from the address; and, in `pages/<body>`, what its <main> holds below the heading when that is more
 * than the #content the script fills.
 */
type Page = {
  route: string;
  name: string;
  script: string;
  body?: string;
  /** Scripts the page's own script needs loaded first. */
  libraries?: string[];
  /** The heading in the default language, for a page that must read sensibly before (or without) its script. */
  heading?: string;
};

const PAGES: Page[] = [
  { route: "/", name: "scan", script: "scan.js", body: "scan.html", libraries: ["/vendor/zxing.js"], heading: "扫码验证" },
  { route: "/sign-in", name: "signIn", script: "sign-in.js", body: "sign-in.html" },
  { route: "/batches", name: "batches", script: "batches.js" },
  { route: "/batches/new", name: "record", script: "record.js", body: "record.html" },
  { route: "/batches/:batchId", name: "batch", script: "batch.js", body: "batch.html" },
  { route: "/batches/:batchId/release", name: "release", script: "release.js", body: "release.html" },
  { route: "/recalls", name: "recalls", script: "recalls.js" },
  { route: "/recalls/:batchId", name: "recall", script: "recall.js" },
  { route: "/organizations/:organizationId", name: "organization", script: "organization.js", body: "organization.html" },
  { route: "/organizations/:organizationId/file", name: "enterprise", script: "enterprise.js" },
  { route: "/organizations/:organizationId/quality", name: "organizationQuality", script: "organization-quality.js" },
  { route: "/ratings", name: "ratings", script: "ratings.js" },
  { route: "/agreements/:agreementId/communications", name: "communications", script: "communications.js" },
  { route: "/products/:productId/quality", name: "productQuality", script: "product-quality.js" },
  { route: "/stock", name: "stock", script: "stock.js", body: "stock.html" },
  { route: "/stock/:batchId", name: "holding", script: "holding.js", body: "holding.html" },
  { route: "/alerts", name: "alerts", script: "alerts.js" },
  { route: "/alerts/:alertId", name: "alert", script: "alert.js" },
  { route: "/suspect-reports", name: "suspectReports", script: "suspect-reports.js" },
  { route: "/suspect-reports/:reportId", name: "suspectReport", script: "suspect-report.js" },
];

const APP_NAME = "药品追溯账本";
const CONTENT = `  <div id="content" aria-live="polite"></div>\n`;

/**
 * The one HTML shell every page shares: head, skip link, the header app.js fills (navigation, who is signed in,
 * language switch), and the message shown when JavaScript is off; the page's own part goes in <main>.
 */
function renderPage(page: Page, body: string): string {
  const title = page.heading ? `${page.heading} · ${APP_NAME}` : APP_NAME;
  const libraries = (page.libraries ?? []).map((src) => `<script src="${src}" defer></script>\n`).join("");
  return `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="stylesheet" href="/assets/app.css">
${libraries}<script type="module" src="/assets/${page.script}"></script>
</head>
<body>
<a class="skip" href="#main" data-i18n="nav.skip">跳到正文</a>
<header id="site-header" class="site-header"></header>
<main id="main" tabindex="-1">
  <noscript><p class="alert">此页面需要启用 JavaScript。This page needs JavaScript.</p></noscript>
  <h1 data-i18n="title.${page.name}">${page.heading ?? ""}</h1>
${body}</main>
</body>
</html>
`;
}

/**
 * Browser libraries served straight from their npm packages, so the pages need no build step: zxing decodes
 * DataMatrix and QR from the camera or a photo; ethers decrypts a keystore and signs the sign-in challenge in the
 * page, so a key never leaves the browser.
 */
const VENDOR: Array<[string, string, string]> = [
  ["/vendor/zxing.js", "@zxing/library", "umd/index.min.js"],
  ["/vendor/ethers.js", "ethers", "dist/ethers.min.js"],
];

/** The web pages for distributors, pharmacists and regulators, served beside the API they call. */
export const webPages: AppMount = (app, services) => {
  mountRoutes(app, demoRoutes, services, createAuthenticator(services));
  app.get(LABEL_PATH, labelHandler);
  app.get(LEDGER_BUNDLE_PATH, ledgerBundleHandler());
  for (const [route, pkg, file] of VENDOR) {
    const bundle = path.join(packageDir(pkg), file);
    app.get(route, (_req, res) => {
      res.type("text/javascript").sendFile(bundle, { maxAge: "1h" });
    });
  }
  mountPages(app);
};

function mountPages(app: Express) {
  for (const page of PAGES) {
    const html = renderPage(page, page.body ? readFileSync(path.join(PAGES_DIR, page.body), "utf8") : CONTENT);
    app.get(page.route, (_req, res) => {
      // Pages change with each release and are small: always revalidate rather than serve yesterday's script.
      res.set("cache-control", "no-cache").type("html").send(html);
    });
  }
  app.use("/assets", express.static(path.join(PUBLIC_DIR, "assets"), { index: false }));
}
