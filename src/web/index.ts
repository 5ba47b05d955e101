import express from "express";
import type { Express } from "express";
import path from "node:path";
import type { AppMount } from "../api/app";
import { createAuthenticator } from "../api/auth";
import { mountRoutes } from "../api/routes";
import { demoRoutes } from "./demo";
import { labelHandler, LABEL_PATH } from "./labels";
import { packageDir } from "./packages";

const PUBLIC_DIR = path.join(__dirname, "public");

/** Page paths and the HTML file that serves each; the page's script reads its ids from the address. */
const PAGES: Array<[string, string]> = [
  ["/", "scan.html"],
  ["/sign-in", "sign-in.html"],
  ["/batches", "batches.html"],
  ["/batches/:batchId", "batch.html"],
  ["/recalls", "recalls.html"],
  ["/recalls/:batchId", "recall.html"],
  ["/organizations/:organizationId", "organization.html"],
];

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
  for (const [route, pkg, file] of VENDOR) {
    const bundle = path.join(packageDir(pkg), file);
    app.get(route, (_req, res) => {
      res.type("text/javascript").sendFile(bundle, { maxAge: "1h" });
    });
  }
  mountPages(app);
};

function mountPages(app: Express) {
  for (const [route, file] of PAGES) {
    app.get(route, (_req, res) => {
      // Pages change with each release and are small: always revalidate rather than serve yesterday's script.
      res.set("cache-control", "no-cache").sendFile(path.join(PUBLIC_DIR, file));
    });
  }
  app.use("/assets", express.static(path.join(PUBLIC_DIR, "assets"), { index: false }));
}
