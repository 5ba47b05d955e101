import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

/**
 * The installed directory of an npm package. Packages with an `exports` map refuse `require.resolve("x/package.json")`,
 * so walk up from the entry point to the package.json that names the package.
 */
export function packageDir(name: string): string {
  let dir = path.dirname(require.resolve(name));
  for (;;) {
    const manifest = path.join(dir, "package.json");
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === name) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the installed package ${name}`);
    dir = parent;
  }
}
