import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import { createStore } from "../../src/store";
import type { AgreementKindName } from "../../src/ledger/vocabulary";
import type { Store } from "../../src/store";
import { ledgerEntryText, toLedgerEntries } from "../../src/api/read-model";
import { provenanceReader } from "../../src/store/provenance-reads";
import type { ChainPosition } from "../../src/store/provenance-reads";
import { createPostgresDatabase } from "../indexer/stores";

const provenancePage = provenanceReader(ledgerEntryText);
const id = (n: number) => `0x${n.toString(16).padStart(64, "0")}`;
const EVERY_PRODUCT = id(0);
const [MAH, CMO, OTHER_MAH] = [1, 2, 3];
const PRODUCT = id(0xa);
const BATCH = { id: id(0xb), mah_id: MAH, agreement_id: id(0x1), product_id: PRODUCT };
const [QUALITY, SALES, STORAGE_EVERY_PRODUCT, OTHER_QUALITY, THEIR_SALES] = [id(0x1), id(0x2), id(0x3), id(0x4), id(0x5)];

/** Events in chain order: the batch's own, its agreements', and others' that its provenance leaves out. */
const EVENTS: { at: [number, number]; name: string; batch?: string; agreement?: string; organization?: number; shown: boolean }[] = [
  { at: [10, 0], name: "AgreementSigned", agreement: QUALITY, organization: MAH, shown: true },
  { at: [10, 1], name: "AgreementSigned", agreement: SALES, organization: MAH, shown: true },
  { at: [11, 0], name: "BatchRecorded", batch: BATCH.id, organization: CMO, shown: true },
  { at: [12, 0], name: "BatchShipped", batch: BATCH.id, organization: CMO, shown: true },
  { at: [12, 1], name: "AgreementSigned", agreement: OTHER_QUALITY, organization: MAH, shown: false },
  { at: [12, 2], name: "ShipmentReceived", batch: BATCH.id, organization: MAH, shown: true },
  { at: [13, 0], name: "AgreementRevoked", agreement: SALES, organization: MAH, shown: true },
  // Naming both the batch and one of its agreements: shown once.
  { at: [13, 1], name: "AgreementRecalled", batch: BATCH.id, agreement: QUALITY, organization: MAH, shown: true },
  { at: [14, 0], name: "AgreementSigned", agreement: THEIR_SALES, organization: OTHER_MAH, shown: false },
  { at: [14, 1], name: "AgreementSigned", agreement: STORAGE_EVERY_PRODUCT, organization: MAH, shown: true },
  // An organization the read model does not know, and none.
  { at: [15, 0], name: "BatchMarketReleased", batch: BATCH.id, organization: 99, shown: true },
  { at: [15, 1], name: "BatchNoted", batch: BATCH.id, shown: true },
];

/** Names and texts JSON must escape: quotes, backslashes, control characters, line separators, CJK, emoji. */
const nameOf = (n: number) => `organization ${n}: "药业" \\ \n\t\u0001\u001f\u2028 😀`;
const problemOf = (n: number) => (n % 3 === 0 ? null : `failed: "${n}" \r\n\b\f\u007f </script>`);
const payloadOf = (n: number) => JSON.stringify({ n, note: `"${n}"\n\u0000é`, nested: { list: [1, "two", null] } });

async function seed(store: Store) {
  await store.db
    .insertInto("organizations")
    .values(
      [MAH, CMO, OTHER_MAH].map((n) => ({
        id: n,
        role: n === CMO ? ("CMO" as const) : ("MAH" as const),
        region: 320000 + n,
        licence_hash: id(n),
        name: nameOf(n),
        status: "ACTIVE" as const,
        onboarded_by: 0,
        onboarded_at: 0,
        licence_valid_until: null,
      })),
    )
    .execute();
  const agreement = (agreementId: string, kind: AgreementKindName, mah: number, product: string) => ({
    id: agreementId,
    kind,
    mah_id: mah,
    counterparty_id: CMO,
    product_id: product,
    document_hash: id(0xd),
    valid_from: 0,
    valid_until: 2_000_000_000,
    release_tester: "NONE" as const,
    revoked: 0,
    signed_at: 0,
    revoked_at: null,
    approval: "NOT_REQUIRED" as const,
    opinion_by: null,
    opinion_hash: null,
    opinion_at: null,
    approved_by: null,
    approval_hash: null,
    approved_at: null,
  });
  await store.db
    .insertInto("agreements")
    .values([
      agreement(QUALITY, "QUALITY", MAH, PRODUCT),
      agreement(SALES, "SALES", MAH, PRODUCT),
      agreement(STORAGE_EVERY_PRODUCT, "STORAGE", MAH, EVERY_PRODUCT),
      agreement(OTHER_QUALITY, "QUALITY", MAH, PRODUCT),
      agreement(THEIR_SALES, "SALES", OTHER_MAH, PRODUCT),
    ])
    .execute();
  await store.db
    .insertInto("ledger_events")
    .values(
      // Written out of chain order: the order is the reads', not the rows'.
      [...EVENTS].reverse().map((event) => ({
        block_number: event.at[0],
        log_index: event.at[1],
        block_hash: id(event.at[0]),
        block_time: 1_700_000_000_000 + event.at[0],
        tx_hash: id(event.at[0] * 100 + event.at[1]),
        contract: "BatchLedger",
        address: "0x" + "ab".repeat(20),
        name: event.name,
        batch_id: event.batch ?? null,
        agreement_id: event.agreement ?? null,
        organization_id: event.organization ?? null,
        signer: event.organization === undefined ? null : "0x" + "cd".repeat(20),
        signer_organization_id: event.organization ?? null,
        verification: event.at[1] === 1 ? "pending" : "verified",
        problem: problemOf(event.at[0] * 10 + event.at[1]),
        payload: payloadOf(event.at[0] * 10 + event.at[1]),
      })),
    )
    .execute();
}

describe.each(["sqlite", "postgres"] as const)("a batch's provenance pages on %s", (kind) => {
  let store: Store;
  let database: Awaited<ReturnType<typeof createPostgresDatabase>> | undefined;
  beforeAll(async () => {
    database = kind === "postgres" ? await createPostgresDatabase("trace_provenance") : undefined;
    store = createStore(database?.url ?? ":memory:");
    await store.migrate();
    await seed(store);
  });
  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  it("give the batch's own events and its agreements', interleaved in chain order, once each, whatever the page length", async () => {
    const shown = EVENTS.filter((event) => event.shown).map((event) => event.at);
    for (let limit = 1; limit <= shown.length + 1; limit++) {
      const paged: [number, number][] = [];
      let after: ChainPosition | undefined;
      for (;;) {
        const page = await provenancePage(store.db, BATCH, after, limit);
        paged.push(...page.map((event): [number, number] => [event.block_number, event.log_index]));
        if (page.length < limit) break;
        after = { block: page[page.length - 1]!.block_number, logIndex: page[page.length - 1]!.log_index };
      }
      expect(paged, `pages of ${limit}`).to.deep.equal(shown);
    }
    const whole = await provenancePage(store.db, BATCH, undefined, 100);
    expect(whole.map((event) => JSON.parse(event.json).organization?.name ?? null)).to.deep.equal(
      EVENTS.filter((event) => event.shown).map((event) =>
        event.organization === undefined || event.organization === 99 ? null : nameOf(event.organization),
      ),
    );
  });

  it("write each entry as the database's text, byte for byte what JSON.stringify gives for the entry", async () => {
    const whole = await provenancePage(store.db, BATCH, undefined, 100);
    const events = await store.db.selectFrom("ledger_events").selectAll().orderBy("block_number").orderBy("log_index").execute();
    const shownEvents = events.filter((event) => whole.some((w) => w.block_number === event.block_number && w.log_index === event.log_index));
    const expected = (await toLedgerEntries(store.db, shownEvents)).map((entry) => JSON.stringify(entry));
    expect(whole.map((event) => event.json)).to.deep.equal(expected);
  });
});
