import { SingleBar, Presets } from "cli-progress";
import type { Logger } from "../log";

/** Reports backfill progress: blocks done, events per second and the distance to the chain head. */
export type Progress = {
  advance(update: { block: number; head: number; events: number }): void;
  stop(): void;
};

const LOG_INTERVAL_MS = 5_000;

/** A progress bar on a terminal; elsewhere a log line per interval. */
export function createProgress(log: Logger, fromBlock: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  const started = Date.now();
  let events = 0;
  const rate = () => Math.round(events / Math.max((Date.now() - started) / 1000, 0.001));
  if (stream.isTTY) {
    const bar = new SingleBar(
      { format: "indexing [{bar}] block {value}/{total} | {rate} events/s | {behind} blocks behind", stream },
      Presets.shades_classic,
    );
    bar.start(1, fromBlock, { rate: 0, behind: 0 });
    return {
      advance({ block, head, events: added }) {
        events += added;
        bar.setTotal(head);
        bar.update(block, { rate: rate(), behind: head - block });
      },
      stop: () => bar.stop(),
    };
  }
  let lastLog = 0;
  return {
    advance({ block, head, events: added }) {
      events += added;
      if (Date.now() - lastLog < LOG_INTERVAL_MS && block < head) return;
      lastLog = Date.now();
      log.info({ block, head, behind: head - block, eventsPerSecond: rate(), events }, "indexing");
    },
    stop() {},
  };
}
