import { randomBytes } from "node:crypto";
import { readdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import type { Store } from "../store";
import { SORTED_RUN_INFIX } from "../store/code-rows-worker";

/**
 * A registration's working files are deleted by the registration itself, whether it succeeds or fails; a server
 * killed midway leaves them in `<dataDir>/trees`: a 10,000,000-code registration about 1 GiB of them. What each is
 * and when it is certainly no live registration's:
 * - an attempt's tree and keys as they arrive (`<batch>.tree.<attempt>.registering`, with its `.partial` file and
 *   `.buckets` directory, and `<batch>.tree.<attempt>.keys`): written while the body arrives (Node's server ends a
 *   request not received within 5 minutes) and renamed away once the tree is finished, so an attempt none of whose
 *   files changed for ABANDONED_AFTER_MS is no live registration's, whichever server of a shared data directory
 *   made it;
 * - a registration's sorted runs of keys (`<batch>.codes.sorted-<claim>-<n>`): written and read only under the
 *   registration's claim, so once no claim row has that token, no server will read them;
 * - the keys of a registration older than kept files, being written from the store (`<batch>.codes.writing`): as an
 *   attempt's files.
 */
const ABANDONED_AFTER_MS = 60 * 60 * 1000;

/**
 * An attempt's working files for the tree at `treePath`: unique, as API servers sharing a data directory may be
 * registering the same batch at once.
 */
export function attemptFiles(treePath: string) {
  const attempt = randomBytes(6).toString("hex");
  return { pending: `${treePath}.${attempt}.registering`, spool: `${treePath}.${attempt}.keys` };
}

/** An attempt's files, named by its tree's path and attempt (group 1); or the keys written from the store. */
const ATTEMPT = /^(.+\.tree\.[0-9a-f]{12})\.(registering(\.partial|\.buckets)?|keys)$|\.codes\.writing$/;
const SORTED_RUN = new RegExp(`\\.codes${SORTED_RUN_INFIX.replace(".", "\\.")}([A-Za-z0-9_-]+)-\\d+$`);

/**
 * Deletes what killed registrations left in `treesDir`: the names deleted, and those that could not be (left for the
 * next start, with the reason: a file that will not go away never keeps a server from starting). A trees directory
 * that cannot be read is thrown: the server could not read its trees either.
 */
export async function sweepRegistrationLeftovers(
  store: Store,
  treesDir: string,
  now = Date.now(),
): Promise<{ swept: string[]; unswept: { name: string; reason: string }[] }> {
  const swept: string[] = [];
  const unswept: { name: string; reason: string }[] = [];
  let names: string[];
  try {
    names = await readdir(treesDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { swept, unswept };
    throw error;
  }
  // Read after the names: a run listed was made under a claim whose row was written before it.
  const liveClaims = new Set((await store.db.selectFrom("code_registration_claims").select("claim").execute()).map((row) => row.claim));
  // An attempt is live while any of its files changes: its keys are complete while its tree is still being finished.
  const attemptChanged = new Map<string, number>();
  for (const name of names) {
    const attempt = ATTEMPT.exec(name)?.[1];
    if (attempt) attemptChanged.set(attempt, Math.max(attemptChanged.get(attempt) ?? 0, await lastChange(path.join(treesDir, name))));
  }
  for (const name of names) {
    const run = SORTED_RUN.exec(name);
    const attempt = ATTEMPT.exec(name);
    const changed = attempt && (attempt[1] ? attemptChanged.get(attempt[1])! : await lastChange(path.join(treesDir, name)));
    const abandoned = run ? !liveClaims.has(run[1]!) : changed !== null && now - changed > ABANDONED_AFTER_MS;
    if (!abandoned) continue;
    try {
      await rm(path.join(treesDir, name), { recursive: true, force: true });
      swept.push(name);
    } catch (error) {
      unswept.push({ name, reason: (error as Error).message });
    }
  }
  return { swept, unswept };
}

/**
 * When the file, or a directory's newest entry, last changed (a tree's buckets are written inside their directory);
 * now for one gone since it was listed (a live registration renamed or deleted it) or that cannot be read.
 */
async function lastChange(file: string): Promise<number> {
  try {
    const info = await stat(file);
    if (!info.isDirectory()) return info.mtimeMs;
    let newest = info.mtimeMs;
    for (const entry of await readdir(file)) newest = Math.max(newest, await lastChange(path.join(file, entry)));
    return newest;
  } catch {
    // Gone, or unreadable: either way not known to be abandoned.
    return Date.now();
  }
}
