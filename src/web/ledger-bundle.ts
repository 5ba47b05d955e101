import { build } from "esbuild";
import type { RequestHandler } from "express";
import path from "node:path";

/** Where the pages load the ledger's protocol from (src/web/browser-ledger.ts, bundled). */
export const LEDGER_BUNDLE_PATH = "/assets/ledger.js";

const ENTRY = path.join(__dirname, "browser-ledger.ts");

/**
 * The ledger's protocol (catalogue, domains, signing) bundled for the browser with esbuild, once per process on
 * first request: the pages sign with the very code the CLI and the relay use, with no build step to forget.
 * ethers stays outside the bundle: the pages already load its ESM build from /vendor/ethers.js.
 */
export async function bundleLedger(): Promise<string> {
  const result = await build({
    entryPoints: [ENTRY],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    write: false,
    logLevel: "silent",
    plugins: [
      {
        name: "vendor-ethers",
        setup(builder) {
          builder.onResolve({ filter: /^ethers$/ }, () => ({ path: "/vendor/ethers.js", external: true }));
        },
      },
    ],
  });
  return result.outputFiles[0]!.text;
}

export function ledgerBundleHandler(): RequestHandler {
  let bundle: Promise<string> | undefined;
  return (_req, res, next) => {
    bundle ??= bundleLedger();
    bundle.then(
      (text) => res.set("cache-control", "no-cache").type("text/javascript").send(text),
      (error: unknown) => {
        bundle = undefined;
        next(error);
      },
    );
  };
}
