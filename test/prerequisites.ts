/**
 * What the test suites need from the machine, checked once before any suite runs (vitest globalSetup): a missing
 * one fails `npm test` at once with what to install, not deep inside a suite minutes later.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import pg from "pg";

const DEBIAN_CHROMIUM = "/usr/bin/chromium";

/** The PostgreSQL server the storage tests create their databases on (.ci/run starts one there when none runs). */
export const POSTGRES_ADMIN_URL = process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** Debian's chromium, or a `chromium` on the PATH; undefined when there is none. */
export function findChromium(debian = DEBIAN_CHROMIUM, searchPath = process.env.PATH ?? ""): string | undefined {
  if (existsSync(debian)) return debian;
  return searchPath
    .split(path.delimiter)
    .filter((dir) => dir !== "")
    .map((dir) => path.join(dir, "chromium"))
    .find((file) => existsSync(file));
}

async function postgresProblem(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return undefined;
  } catch (error) {
    const reason = (error as Error).message || (error as { code?: string }).code || String(error);
    return `PostgreSQL at ${url.replace(/\/\/[^@]*@/, "//…@")} (${reason}): start one on 127.0.0.1:5432 (user postgres, trust auth), or set TEST_POSTGRES_URL to a server where the tests may create databases`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** One line per missing prerequisite, saying what to install or set. */
export async function missingPrerequisites(where: { chromium: string | undefined; postgresUrl: string }): Promise<string[]> {
  const postgres = await postgresProblem(where.postgresUrl);
  return [
    ...(where.chromium
      ? []
      : [`chromium, for the web page tests: apt-get install -y chromium (looked for ${DEBIAN_CHROMIUM} and chromium on the PATH)`]),
    ...(postgres ? [postgres] : []),
  ];
}

export default async function checkPrerequisites(): Promise<void> {
  const missing = await missingPrerequisites({ chromium: findChromium(), postgresUrl: POSTGRES_ADMIN_URL });
  if (missing.length > 0) throw new Error(`the tests cannot run; missing:\n${missing.map((line) => `  - ${line}`).join("\n")}`);
}
