import * as fs from "node:fs";

/** The fields of a Linux /proc stat file after the command name, or undefined where there is none. */
function statFields(file: string): string[] | undefined {
  try {
    return fs.readFileSync(file, "utf8").split(") ")[1]!.split(" ");
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds (user + system) a process or thread has used so far, from its Linux /proc stat file
 * (`/proc/PID/stat`, `/proc/self/task/TID/stat`); undefined where there is none. Clock ticks are 1/100 s.
 */
export function procCpuSeconds(file: string): number | undefined {
  const fields = statFields(file);
  return fields && (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Major page faults a process has taken so far (each one waited for the disk), from its /proc stat file. */
export function procMajorFaults(file: string): number | undefined {
  const fields = statFields(file);
  return fields && Number(fields[9]);
}

/**
 * Bytes a process has caused to be read from storage so far (page-cache misses, whether by read() or by a fault on a
 * mapped file), from `/proc/PID/io`; undefined where it cannot be read.
 */
export function procStorageReadBytes(pid: number): number | undefined {
  try {
    return Number(/^read_bytes: (\d+)$/m.exec(fs.readFileSync(`/proc/${pid}/io`, "utf8"))?.[1]);
  } catch {
    return undefined;
  }
}
