import type { Logger } from "../log";
import { isStoreUnavailable } from "../store";
import type { Store } from "../store";
import { sleep } from "./indexer";

/** Whether this process writes the read model (it holds the writer lock) or stands by to take over. */
export type WriterRole = "writer" | "standby";

export type WriterElection = {
  role(): WriterRole;
  /**
   * Contends for the writer lock until it holds it, then runs `work` with the store of the lock's session and a
   * signal that aborts when the session is lost (or `signal` aborts). When the session is lost, `work` is expected
   * to end, and contending starts again. Resolves when `work` returns while the lock is held, or `signal` aborts.
   */
  run(work: (store: Store, signal: AbortSignal) => Promise<void>, signal: AbortSignal): Promise<void>;
};

export type ElectionOptions = {
  store: Store;
  log: Logger;
  /** How often a standby tries the lock: how soon it takes over after the writer dies (default 1 s). */
  retryMs?: number;
  /** Told each time a claim finds another service holding the lock. */
  onStandby?: () => void;
};

/**
 * One writer per database among the services that share it: the others serve the API from what it writes and
 * take over when its session ends (its process died, or its connection was lost), within `retryMs` of that.
 */
export function writerElection(options: ElectionOptions): WriterElection {
  const { store, log } = options;
  const retryMs = options.retryMs ?? 1_000;
  let role: WriterRole = "standby";
  let waitingSaid = false;

  async function claim() {
    try {
      const session = await store.claimWriter();
      if (!session) options.onStandby?.();
      if (!session && !waitingSaid) log.info("another service writes the read model; standing by to take over");
      waitingSaid = !session;
      return session;
    } catch (error) {
      if (!isStoreUnavailable(error)) throw error;
      log.warn({ err: (error as Error).message }, "cannot reach the database to take the writer lock; retrying");
      return undefined;
    }
  }

  return {
    role: () => role,
    async run(work, signal) {
      while (!signal.aborted) {
        const session = await claim();
        if (session) {
          log.info("this service holds the writer lock: it writes the read model");
          role = "writer";
          try {
            await work(session.store, AbortSignal.any([signal, session.lost]));
            if (!session.lost.aborted) return;
          } catch (error) {
            if (!session.lost.aborted && !isStoreUnavailable(error)) throw error;
          } finally {
            role = "standby";
            await session.close();
          }
          log.warn({ err: String(session.lost.reason ?? "") }, "lost the writer lock's database session: stopped writing; contending again");
        }
        await sleep(retryMs, signal);
      }
    },
  };
}
