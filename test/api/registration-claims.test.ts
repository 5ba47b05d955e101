import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, it } from "vitest";
import { expect } from "chai";
import { CLAIM_ABANDONED_AFTER_SECONDS, ClaimLostError, registrationClaims } from "../../src/api/registration-claims";
import { LedgerError } from "../../src/ledger/errors";
import type { Store } from "../../src/store";
import { createStore } from "../../src/store";
import { writeCodeRowsInWorker } from "../../src/store/code-rows-worker";
import { freshStore, STORE_KINDS } from "../indexer/stores";

const BATCH = `0x${"ab".repeat(32)}`;
const rows = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => ({ canonical_key: `${prefix}${i}`, batch_id: BATCH }));

/**
 * Claims on a batch's code registration, as two API servers sharing a database see them: each server here is its
 * own claims over the same store, with a clock the test moves.
 */
describe.each(STORE_KINDS)("code registration claims (%s)", (kind) => {
  let store: Store;
  let now = 1_000_000;
  const server = () => registrationClaims(store, () => now);
  const keysOfBatch = async () =>
    (await store.db.selectFrom("batch_codes").select("canonical_key").where("batch_id", "=", BATCH).orderBy("canonical_key").execute()).map(
      (row) => row.canonical_key,
    );
  const failure = async (promise: Promise<unknown>) => {
    try {
      await promise;
    } catch (error) {
      return error instanceof LedgerError ? `${error.kind} ${error.code}` : (error as Error).name;
    }
    return "no failure";
  };

  beforeEach(async () => {
    store = kind === "sqlite" ? createStore(":memory:") : await freshStore(kind);
    if (kind === "sqlite") await store.migrate();
  });
  afterEach(async () => store.close());

  it("lets one server write a batch's rows at a time; the other is refused and deletes nothing", async () => {
    const first = await server().take(BATCH);
    await first.write((trx) => trx.insertInto("batch_codes").values(rows("a", 3)).execute());
    expect(await failure(server().take(BATCH))).to.equal("conflict CODES_REGISTRATION_UNDER_WAY");
    now += CLAIM_ABANDONED_AFTER_SECONDS; // not yet abandoned: renewed at the last write
    expect(await failure(server().take(BATCH))).to.equal("conflict CODES_REGISTRATION_UNDER_WAY");
    await first.write((trx) => trx.insertInto("batch_codes").values(rows("b", 2)).execute());
    expect(await keysOfBatch()).to.deep.equal(["a0", "a1", "a2", "b0", "b1"]);
  });

  it("takes over a claim abandoned by a crashed server, deleting the rows it left; the crashed one can neither write nor delete", async () => {
    const crashed = await server().take(BATCH);
    await crashed.write((trx) => trx.insertInto("batch_codes").values(rows("old", 4)).execute());
    now += CLAIM_ABANDONED_AFTER_SECONDS + 1;
    const next = await server().take(BATCH);
    expect(await keysOfBatch()).to.deep.equal([]);
    await next.write((trx) => trx.insertInto("batch_codes").values(rows("new", 2)).execute());
    // The crashed server wakes up: its claim is gone, so it writes nothing and its abandon deletes nothing.
    expect(await failure(crashed.write((trx) => trx.insertInto("batch_codes").values(rows("late", 1)).execute()))).to.equal(ClaimLostError.name);
    await crashed.abandon();
    expect(await keysOfBatch()).to.deep.equal(["new0", "new1"]);
  });

  it("gives the claim up with the registration's last write, after which the batch is registered and its rows are never taken", async () => {
    const first = await server().take(BATCH);
    await first.write((trx) => trx.insertInto("batch_codes").values(rows("a", 2)).execute());
    await first.finish((trx) =>
      trx
        .insertInto("code_trees")
        .values({ batch_id: BATCH, root: "0x00", code_count: 2, tree_path: "/nowhere", registered_by: 1, registered_at: now })
        .execute(),
    );
    expect(await store.db.selectFrom("code_registration_claims").selectAll().execute()).to.deep.equal([]);
    expect(await failure(server().take(BATCH))).to.equal("conflict CODES_ALREADY_REGISTERED");
    // Even over a claim some server took after that and abandoned.
    await store.db.insertInto("code_registration_claims").values({ batch_id: BATCH, claim: "stale", renewed_at: 0 }).execute();
    expect(await failure(server().take(BATCH))).to.equal("conflict CODES_ALREADY_REGISTERED");
    expect(await keysOfBatch()).to.deep.equal(["a0", "a1"]);
  });

  it("deletes its own rows and gives the claim up when its registration fails", async () => {
    const failing = await server().take(BATCH);
    await failing.write((trx) => trx.insertInto("batch_codes").values(rows("a", 5)).execute());
    await failing.abandon();
    expect([await keysOfBatch(), await store.db.selectFrom("code_registration_claims").selectAll().execute()]).to.deep.equal([[], []]);
    await server().take(BATCH);
  });
});

/**
 * On a SQLite file the code book writes a registration's rows from a worker thread on a connection of its own, each
 * chunk renewing the claim as `write` does: the same rules, off the thread that answers requests.
 */
describe("code rows written by a worker thread (SQLite file)", () => {
  let dir: string;
  let store: Store;
  const keysFile = (name: string, keys: string[]) => {
    const file = path.join(dir, name);
    writeFileSync(file, `${keys.join("\n")}\n`);
    return file;
  };
  const countOf = async (batchId: string) =>
    Number(
      (
        await store.db
          .selectFrom("batch_codes")
          .select((eb) => eb.fn.countAll().as("n"))
          .where("batch_id", "=", batchId)
          .executeTakeFirstOrThrow()
      ).n,
    );

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "trace-rows-"));
    store = createStore(path.join(dir, "store.sqlite"));
    await store.migrate();
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("writes every row in chunks under its live claim, which it still holds for the last write", async () => {
    const claim = await registrationClaims(store).take(BATCH);
    const keys = rows("k", 2_500).map((row) => row.canonical_key);
    const request = { file: store.sqliteFile!, batchId: BATCH, claim: claim.token, keysFile: keysFile("keys", keys), rowsPerWrite: 1_000 };
    expect(await writeCodeRowsInWorker(request)).to.equal("written");
    expect(await countOf(BATCH)).to.equal(2_500);
    await claim.finish(async () => undefined);
    expect(await store.db.selectFrom("code_registration_claims").selectAll().execute()).to.deep.equal([]);
  });

  it("writes every row once when its keys are sorted in several runs, and leaves no run behind", async () => {
    const claim = await registrationClaims(store).take(BATCH);
    const keys = rows("k", 2_500)
      .map((row) => row.canonical_key)
      .reverse();
    const file = keysFile("keys", keys);
    const request = { file: store.sqliteFile!, batchId: BATCH, claim: claim.token, keysFile: file, rowsPerWrite: 300, keysPerRun: 700 };
    expect(await writeCodeRowsInWorker(request)).to.equal("written");
    const written = await store.db.selectFrom("batch_codes").select("canonical_key").where("batch_id", "=", BATCH).execute();
    expect(written.map((row) => row.canonical_key).sort()).to.deep.equal([...keys].sort());
    expect(readdirSync(dir).filter((name) => name.startsWith("keys."))).to.deep.equal([]);
  });

  it("writes nothing once its claim was taken over by another server", async () => {
    const crashed = await registrationClaims(store, () => 1_000).take(BATCH);
    // Another server took the abandoned claim over (its clock is well past the crashed one's last renewal).
    await registrationClaims(store).take(BATCH);
    const request = {
      file: store.sqliteFile!,
      batchId: BATCH,
      claim: crashed.token,
      keysFile: keysFile("late", ["late0", "late1"]),
      rowsPerWrite: 1,
    };
    expect(await writeCodeRowsInWorker(request)).to.equal("lost");
    expect(await countOf(BATCH)).to.equal(0);
  });
});
