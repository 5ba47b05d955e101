import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, it } from "vitest";
import { expect } from "chai";
import { createCodeBook } from "../../src/api/codebook";
import { sweepRegistrationLeftovers } from "../../src/api/registration-leftovers";
import { createStore } from "../../src/store";
import type { Store } from "../../src/store";

const BATCH = `0x${"ab".repeat(32)}`;
const HOUR = 60 * 60;

/**
 * What a server killed in the middle of registering codes leaves in the data directory, and what a server starting
 * over it deletes: only what no registration, of this server or another sharing the directory, can still use.
 */
describe("registration leftovers", () => {
  let store: Store;
  let dataDir: string;
  let trees: string;

  beforeEach(async () => {
    store = createStore(":memory:");
    await store.migrate();
    dataDir = mkdtempSync(path.join(tmpdir(), "trace-leftovers-"));
    trees = path.join(dataDir, "trees");
    mkdirSync(trees);
  });
  afterEach(async () => {
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** A file (or, with `inside`, a directory holding one) last changed `age` seconds ago. */
  function leave(name: string, age: number, inside?: { name: string; age: number }) {
    const file = path.join(trees, name);
    if (inside) {
      mkdirSync(file);
      const entry = path.join(file, inside.name);
      writeFileSync(entry, "x");
      utimesSync(entry, Date.now() / 1000 - inside.age, Date.now() / 1000 - inside.age);
    } else {
      writeFileSync(file, "x");
    }
    utimesSync(file, Date.now() / 1000 - age, Date.now() / 1000 - age);
  }

  it("deletes an attempt's files an hour after their last change, and sorted runs whose claim is gone", async () => {
    const abandoned = [
      `${BATCH}.tree.0123456789ab.registering`,
      `${BATCH}.tree.0123456789ab.registering.partial`,
      `${BATCH}.tree.0123456789ab.keys`,
      `${BATCH}.codes.writing`,
      `${BATCH}.codes.sorted-gone_Claim-0`,
      `${BATCH}.codes.sorted-gone_Claim-1`,
    ];
    for (const name of abandoned) leave(name, 2 * HOUR);
    leave(`${BATCH}.tree.0123456789ab.registering.buckets`, 2 * HOUR, { name: "17", age: 2 * HOUR });
    const live = [
      // Another server's registration under way.
      `${BATCH}.tree.fedcba987654.registering`,
      `${BATCH}.tree.fedcba987654.keys`,
      // Its sorted runs, under a claim that still has its row.
      `${BATCH}.codes.sorted-liveClaim-0`,
      // A registration's own files, however old.
      `${BATCH}.tree`,
      `${BATCH}.codes`,
      `${BATCH}.registration.json`,
    ];
    for (const name of live) leave(name, name.includes("fedcba") ? 2 * HOUR : 10 * HOUR);
    // Its tree being finished: its buckets are written inside their directory, so though the directory and the
    // attempt's other files are old, the attempt is live.
    leave(`${BATCH}.tree.fedcba987654.registering.buckets`, 2 * HOUR, { name: "3", age: 1 });
    await store.db.insertInto("code_registration_claims").values({ batch_id: BATCH, claim: "liveClaim", renewed_at: 0 }).execute();

    const { swept, unswept } = await sweepRegistrationLeftovers(store, trees);

    expect(unswept).to.deep.equal([]);
    expect(swept.sort()).to.deep.equal([...abandoned, `${BATCH}.tree.0123456789ab.registering.buckets`].sort());
    expect(readdirSync(trees).sort()).to.deep.equal([...live, `${BATCH}.tree.fedcba987654.registering.buckets`].sort());
  });

  /**
   * Makes a directory's entries undeletable, or deletable again: for root, whom permissions do not stop, with the
   * immutable attribute; for anyone else, by taking away the write permission.
   */
  function protect(directory: string, on: boolean) {
    if (process.getuid?.() === 0) execFileSync("chattr", [on ? "+i" : "-i", directory]);
    else chmodSync(directory, on ? 0o555 : 0o755);
  }

  it("reports a leftover it cannot delete, with the reason, and deletes the rest: a server still starts", async () => {
    const stuck = `${BATCH}.tree.0123456789ab.registering.buckets`;
    leave(stuck, 2 * HOUR, { name: "3", age: 2 * HOUR });
    leave(`${BATCH}.codes.writing`, 2 * HOUR);
    protect(path.join(trees, stuck), true);
    try {
      const { swept, unswept } = await sweepRegistrationLeftovers(store, trees);
      expect(swept).to.deep.equal([`${BATCH}.codes.writing`]);
      expect(unswept.map((leftover) => leftover.name)).to.deep.equal([stuck]);
      // The system's refusal as it was given (rm reports it by its code: EPERM, EACCES, ENOTDIR, …).
      expect(unswept[0]!.reason).to.match(/^E[A-Z]+: /);
    } finally {
      protect(path.join(trees, stuck), false);
    }
  });

  it("refuses a trees directory it cannot read: the server could not read its trees either", async () => {
    rmSync(trees, { recursive: true });
    writeFileSync(trees, "not a directory");
    const refusal = await sweepRegistrationLeftovers(store, trees).catch((error: unknown) => error);
    expect((refusal as NodeJS.ErrnoException).code).to.equal("ENOTDIR");
  });

  it("are deleted when a server recovers its registrations at start, and a data directory without trees is no error", async () => {
    leave(`${BATCH}.tree.0123456789ab.keys`, 2 * HOUR);
    const codes = createCodeBook(store, dataDir);
    try {
      expect((await codes.recover()).swept).to.deep.equal([`${BATCH}.tree.0123456789ab.keys`]);
      expect(readdirSync(trees)).to.deep.equal([]);
      rmSync(trees, { recursive: true });
      expect((await codes.recover()).swept).to.deep.equal([]);
    } finally {
      codes.close();
    }
  });
});
