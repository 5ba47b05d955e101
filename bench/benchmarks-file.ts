import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

const FILE = path.resolve(__dirname, "..", "BENCHMARKS.md");

/**
 * The heading of a section's notes written by hand (what the figures mean, what was tried): a run rewrites its
 * figures and keeps these, from this heading to the section's end, after them.
 */
export const HAND_NOTES = "### Reading these figures";

/**
 * Writes one benchmark's section of BENCHMARKS.md: `section` starts with its "## " heading and replaces that
 * heading's section (up to the next "## " heading) but for its HAND_NOTES, or is appended when the file has none yet.
 */
export function writeBenchmarkSection(section: string, file = FILE): void {
  const heading = section.slice(0, section.indexOf("\n")).trim();
  const markdown = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmarks\n";
  const lines = markdown.split("\n");
  const start = lines.findIndex((line) => line.trim() === heading);
  if (start === -1) {
    writeFileSync(file, `${markdown.trimEnd()}\n\n${section.trimEnd()}\n`);
    return;
  }
  let end = lines.findIndex((line, i) => i > start && line.startsWith("## "));
  if (end === -1) end = lines.length;
  const notes = lines.findIndex((line, i) => i > start && i < end && line.trim() === HAND_NOTES);
  const kept = notes === -1 || section.includes(HAND_NOTES) ? [] : ["", lines.slice(notes, end).join("\n").trimEnd()];
  const after = lines.slice(end).join("\n");
  writeFileSync(file, [...lines.slice(0, start), section.trimEnd(), ...kept, ...(after ? ["", after] : [""])].join("\n"));
}
