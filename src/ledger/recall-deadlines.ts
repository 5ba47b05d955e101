import type { StartedRecallLevel } from "./vocabulary";

/** Recall deadlines by level, in seconds after the recall starts: each holder's acknowledgement, and the MAH's progress reports. */
export type RecallDeadlines = Record<StartedRecallLevel, { acknowledge: number; progressReport: number }>;

const DAY = 86_400;

/** NMPA's recall rules: level I within a day, level II within 3 days, level III within 7 days. */
export const DEFAULT_RECALL_DEADLINES: RecallDeadlines = {
  I: { acknowledge: 1 * DAY, progressReport: 1 * DAY },
  II: { acknowledge: 3 * DAY, progressReport: 3 * DAY },
  III: { acknowledge: 7 * DAY, progressReport: 7 * DAY },
};

/** The deadlines of a recall stored at `level`; undefined for a level no recall can have. */
export function deadlinesOf(deadlines: RecallDeadlines, level: string): RecallDeadlines[StartedRecallLevel] | undefined {
  return Object.hasOwn(deadlines, level) ? deadlines[level as StartedRecallLevel] : undefined;
}
