import { readFileSync } from "node:fs";

/** A thread's nice value as the kernel keeps it: field 19 of its stat file, the 17th after the command's name. */
export function niceIn(stat: string): number {
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
}

/** The nice value of the thread whose stat file is `file` (/proc/thread-self/stat, /proc/self/task/TID/stat). */
export const niceOf = (file: string) => niceIn(readFileSync(file, "utf8"));
