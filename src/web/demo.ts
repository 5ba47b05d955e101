import { readFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { LedgerError, notFound } from "../ledger/errors";
import { defineRoute } from "../api/routes";

/** What the `npm start` demo writes for each organization it creates: enough to sign in as it. */
const demoOrganization = z.object({
  organizationId: z.number().int(),
  name: z.string(),
  role: z.string(),
  region: z.number().int(),
  address: z.string(),
  privateKey: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
});

/** Where the demo leaves its organizations; its presence is what "demo mode" means. */
export function demoOrganizationsFile(dataDir: string) {
  return path.join(dataDir, "demo", "organizations.json");
}

export const demoRoutes = [
  defineRoute({
    method: "get",
    path: "/v1/demo/organizations",
    summary: "Demo mode only: the demo's organizations and their development keys, for one-click sign-in on the web pages",
    tags: ["demo"],
    access: "public",
    response: z.array(demoOrganization),
    errors: { 404: "not in demo mode" },
    async handle({ services }) {
      const file = demoOrganizationsFile(services.config.dataDir);
      // Read on every request: the demo writes the file after the service has started.
      const text = await readFile(file, "utf8").catch((error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT")
          throw notFound("NOT_DEMO_MODE", "this ledger is not running the demo: sign in with your organization's keystore");
        throw error;
      });
      const parsed = z.array(demoOrganization).safeParse(safeJson(text));
      if (!parsed.success)
        throw new LedgerError("internal", "DEMO_FILE_INVALID", `${file} is not a list of demo organizations: ${parsed.error.issues[0]!.message}`);
      return parsed.data;
    },
  }),
];

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
