import * as fs from "node:fs";
import * as path from "node:path";

/**
 * Refuses to measure a service that runs in (or is started by) this benchmark's process unless node runs with the
 * young generation `npm start` gives the service (its --max-semi-space-size; none: V8's default): with another, the
 * collections, and so the CPU per request or event, would not be the service's. `script` names the npm script that
 * runs the benchmark so, for the message.
 */
export function checkServiceFlags(script: string) {
  const packageJson = path.resolve(__dirname, "..", "package.json");
  const scripts = (JSON.parse(fs.readFileSync(packageJson, "utf8")) as { scripts: Record<string, string> }).scripts;
  const semiSpace = (args: string[]) => args.find((arg) => arg.startsWith("--max-semi-space-size"));
  const service = semiSpace(scripts.start!.split(" "));
  if (semiSpace(process.execArgv) !== service) {
    throw new Error(
      `run the benchmark with node ${service ?? "without --max-semi-space-size"}, as npm start runs the service (npm run ${script} does)`,
    );
  }
}
