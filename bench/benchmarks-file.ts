import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

const FILE = path.resolve(__dirname, "..", "BENCHMARKS.md");

/**
 * Writes one benchmark's section of BENCHMARKS.md: `section` starts with its "## " heading and replaces that
 * heading's section (up to the next "## " heading), or is appended when the file has none yet.
 */
export function writeBenchmarkSection(section: string): void {
  const heading = section.slice(0, section.indexOf("\n")).trim();
  const markdown = existsSync(FILE) ? readFileSync(FILE, "utf8") : "# Benchmarks\n";
  const lines = markdown.split("\n");
  const start = lines.findIndex((line) => line.trim() === heading);
  if (start === -1) {
    writeFileSync(FILE, `${markdown.trimEnd()}\n\n${section.trimEnd()}\n`);
    return;
  }
  let end = lines.findIndex((line, i) => i > start && line.startsWith("## "));
  if (end === -1) end = lines.length;
  const after = lines.slice(end).join("\n");
  writeFileSync(FILE, [...lines.slice(0, start), section.trimEnd(), ...(after ? ["", after] : [""])].join("\n"));
}
