import { describe, it } from "vitest";
import { expect } from "chai";
import pg from "pg";
import { createStore } from "../../src/store";
import { createPostgresDatabase, POSTGRES_ADMIN_URL } from "./stores";

describe("PostgreSQL store", () => {
  it("survives the server dropping its idle connections, and says so", async () => {
    const database = await createPostgresDatabase("trace_lost");
    const lost: Error[] = [];
    const store = createStore(database.url, { onConnectionLost: (error) => lost.push(error) });
    try {
      await store.migrate();
      await terminateConnections(new URL(database.url).pathname.slice(1));
      await waitFor(() => lost.length > 0);
      expect(lost[0]?.message).to.match(/terminating connection/);

      const checkpoint = await store.db.selectFrom("sync_state").selectAll().execute();
      expect(checkpoint).to.deep.equal([]);
    } finally {
      await store.close();
      await database.drop();
    }
  });
});

async function terminateConnections(databaseName: string) {
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [databaseName]);
  } finally {
    await admin.end();
  }
}

async function waitFor(condition: () => boolean) {
  for (let attempt = 0; attempt < 200 && !condition(); attempt++) await new Promise((r) => setTimeout(r, 10));
}
