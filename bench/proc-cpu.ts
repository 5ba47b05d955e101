import * as fs from "node:fs";

/**
 * CPU seconds (user + system) a process or thread has used so far, from its Linux /proc stat file
 * (`/proc/PID/stat`, `/proc/self/task/TID/stat`); undefined where there is none. Clock ticks are 1/100 s.
 */
export function procCpuSeconds(file: string): number | undefined {
  try {
    const fields = fs.readFileSync(file, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}
