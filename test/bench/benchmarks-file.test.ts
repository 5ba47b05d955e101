import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, it } from "vitest";
import { expect } from "chai";
import { HAND_NOTES, writeBenchmarkSection } from "../../bench/benchmarks-file";

describe("a benchmark's section of BENCHMARKS.md", () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "benchmarks-"));
    file = path.join(dir, "BENCHMARKS.md");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("replaces the section's figures and keeps its notes written by hand and the sections around it", () => {
    writeFileSync(
      file,
      ["# Benchmarks", "", "## API", "", "old figures", "", HAND_NOTES, "", "what they mean", "", "## Indexer", "", "theirs", ""].join("\n"),
    );
    writeBenchmarkSection("## API\n\nnew figures\n", file);
    expect(readFileSync(file, "utf8")).to.equal(
      ["# Benchmarks", "", "## API", "", "new figures", "", HAND_NOTES, "", "what they mean", "", "## Indexer", "", "theirs", ""].join("\n"),
    );
  });

  it("writes a section without notes whole, and appends a section the file does not have", () => {
    writeFileSync(file, ["# Benchmarks", "", "## API", "", "old figures", ""].join("\n"));
    writeBenchmarkSection("## API\n\nnew figures\n", file);
    writeBenchmarkSection("## Gas\n\ngas figures\n", file);
    expect(readFileSync(file, "utf8")).to.equal(["# Benchmarks", "", "## API", "", "new figures", "", "## Gas", "", "gas figures", ""].join("\n"));
  });
});
