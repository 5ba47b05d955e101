import { describe, it } from "vitest";
import { expect } from "chai";
import { Migrator, sql } from "kysely";
import type { Kysely } from "kysely";
import { createStore } from "../../src/store";
import { migrationProvider } from "../../src/store/migrations";
import { createPostgresDatabase } from "../indexer/stores";

describe.each(["sqlite", "postgres"] as const)("migration 0013_quality on %s", (kind) => {
  it("keeps earlier deviations, with no severity or category (an earlier ledger signed none), and adds CAPA and document tables", async () => {
    const database = kind === "postgres" ? await createPostgresDatabase("trace_migrate") : undefined;
    const store = createStore(database?.url ?? ":memory:");
    try {
      const { error } = await new Migrator({ db: store.db as unknown as Kysely<unknown>, provider: migrationProvider }).migrateTo(
        "0010_unverified_attestations",
      );
      if (error) throw error;
      await sql`insert into deviations (batch_id, report_hash, kind, status, opened_by, opened_at) values ('0xbb', '0xaa', 'OOS', 'OPEN', 2, 1700000000)`.execute(
        store.db,
      );
      await store.migrate();
      const deviation = await store.db
        .selectFrom("deviations")
        .select(["kind", "severity", "category", "root_cause", "batch_impact"])
        .executeTakeFirstOrThrow();
      expect(deviation).to.deep.equal({ kind: "OOS", severity: "NONE", category: "NONE", root_cause: null, batch_impact: null });
      const tables = (await store.db.introspection.getTables()).map((table) => table.name);
      expect(tables).to.include.members([
        "capas",
        "quality_documents",
        "quality_document_readers",
        "quality_document_contents",
        "quality_document_accesses",
      ]);
    } finally {
      await store.close();
      await database?.drop();
    }
  });
});
