import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { afterAll, describe, it } from "vitest";
import { findChromium, missingPrerequisites, POSTGRES_ADMIN_URL } from "../prerequisites";

const ROOT = path.resolve(__dirname, "../..");
const NOBODY_LISTENS = "postgres://postgres@127.0.0.1:1/postgres";
const dirs: string[] = [];

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("test prerequisites", () => {
  it("finds Debian's chromium, else a chromium on the PATH, else none", () => {
    const bin = mkdtempSync(path.join(tmpdir(), "trace-path-"));
    dirs.push(bin);
    writeFileSync(path.join(bin, "chromium"), "#!/bin/sh\n", { mode: 0o755 });
    expect(findChromium("/nonexistent/chromium", `/nonexistent${path.delimiter}${bin}`)).to.equal(path.join(bin, "chromium"));
    expect(findChromium("/nonexistent/chromium", "/nonexistent")).to.equal(undefined);
  });

  it("names each missing prerequisite and what to do about it", async () => {
    expect(await missingPrerequisites({ chromium: "/usr/bin/chromium", postgresUrl: POSTGRES_ADMIN_URL })).to.deep.equal([]);
    const missing = await missingPrerequisites({ chromium: undefined, postgresUrl: NOBODY_LISTENS });
    expect(missing).to.have.length(2);
    expect(missing[0]).to.contain("chromium, for the web page tests: apt-get install -y chromium");
    expect(missing[1]).to.contain("PostgreSQL at postgres://…@127.0.0.1:1/postgres").and.to.contain("TEST_POSTGRES_URL");
  });

  it("stops the test run before any suite when PostgreSQL is missing", () => {
    const run = spawnSync(process.execPath, ["node_modules/vitest/vitest.mjs", "run", "test/start/options.test.ts"], {
      cwd: ROOT,
      env: { ...process.env, TEST_POSTGRES_URL: NOBODY_LISTENS },
      encoding: "utf8",
    });
    expect(run.status).to.not.equal(0);
    expect(run.stdout + run.stderr)
      .to.contain("the tests cannot run; missing:")
      .and.to.contain("PostgreSQL at postgres://…@127.0.0.1:1/postgres");
    expect(run.stdout + run.stderr).not.to.contain("npm start options");
  });
});
