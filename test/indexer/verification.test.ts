import { afterAll, afterEach, beforeAll, beforeEach, describe, it } from "vitest";
import { expect } from "chai";
import { Interface, Wallet, id as hashText } from "ethers";
import type { Log } from "ethers";
import { createIndexer, createRpcSource } from "../../src/indexer";
import type { ChainSource } from "../../src/indexer";
import { silentLogger } from "../../src/log";
import type { Store } from "../../src/store";
import { BatchLedger__factory } from "../../typechain-types";
import { deployConsortium, handOver, releasedBatch, ship } from "../contracts/fixtures";
import { capturingLogger, LEVEL } from "./capture";
import { deploymentOf, serveChain } from "./chain";
import { freshStore, STORE_KINDS } from "./stores";
import { syntheticConsortium } from "./synthetic";
import type { SyntheticConsortium } from "./synthetic";

/**
 * Every event's signature is re-verified off-chain against the keys the read model holds at that point of the
 * chain. An event that fails, or a log that does not decode, is stored as such and reported; indexing goes on.
 */
describe.each(STORE_KINDS)("signature re-verification on %s", (kind) => {
  let store: Store;
  let s: SyntheticConsortium;
  let batchId: string;

  beforeEach(async () => {
    store = await freshStore(kind);
    s = await syntheticConsortium();
    batchId = await s.releasedBatch("B-001", 100);
    expect((await s.ledger.apply(store)).problems).to.deep.equal([]);
  });
  afterEach(async () => {
    await store.close();
  });

  const eventAt = (log: Log) =>
    store.db
      .selectFrom("ledger_events")
      .selectAll()
      .where("block_number", "=", log.blockNumber)
      .where("log_index", "=", log.index)
      .executeTakeFirstOrThrow();
  const held = async (organizationId: number) =>
    (
      await store.db
        .selectFrom("holdings")
        .select("quantity")
        .where("batch_id", "=", batchId)
        .where("organization_id", "=", organizationId)
        .executeTakeFirst()
    )?.quantity ?? 0;

  it("a tampered attestation is stored as signature_mismatch, reported, and the range goes on", async () => {
    const l = s.ledger;
    await l.ship(s.cmo, s.distributor, batchId, 10, { tamper: (shipment) => ({ ...shipment, quantity: 90 }) });
    const tampered = l.logs.at(-1)!;
    const fine = await l.ship(s.cmo, s.distributor2, batchId, 5);

    const { events, problems } = await l.apply(store);
    expect(events).to.equal(2);
    expect(problems).to.deep.equal([
      { blockNumber: tampered.blockNumber, logIndex: tampered.index, name: "BatchShipped", verification: "signature_mismatch", problem: null },
    ]);
    const row = await eventAt(tampered);
    expect(row).to.include({ name: "BatchShipped", verification: "signature_mismatch", signer: s.cmo.key.address.toLowerCase() });
    expect(JSON.parse(row.payload).quantity).to.equal(90);
    const after = await store.db.selectFrom("shipments").selectAll().where("id", "=", fine).executeTakeFirstOrThrow();
    expect(after).to.include({ quantity: 5, status: "IN_TRANSIT" });
    const checkpoint = await store.db.selectFrom("sync_state").select("block_number").executeTakeFirstOrThrow();
    expect(checkpoint.block_number).to.equal(l.head);
  });

  it("a signature by another key than the signer the event names is a signature_mismatch", async () => {
    await s.ledger.ship(s.cmo, s.distributor, batchId, 10, {
      key: Wallet.createRandom(),
      claimedSigner: s.cmo.key.address,
    });
    const { problems } = await s.ledger.apply(store);
    expect(problems.map((p) => p.verification)).to.deep.equal(["signature_mismatch"]);
  });

  it("an agreement whose counterparty signature does not recover to the counterparty is a signature_mismatch", async () => {
    const agreementId = await s.ledger.signAgreement(s.mah, s.distributor, s.productId, { kind: 2 }, { counterpartyKey: Wallet.createRandom() });
    const forged = s.ledger.logs.at(-1)!;
    const { problems } = await s.ledger.apply(store);
    expect(problems.map((p) => [p.name, p.verification])).to.deep.equal([["AgreementSigned", "signature_mismatch"]]);
    const row = await eventAt(forged);
    // The MAH's own signature is fine: the signer recorded is the MAH's key, of the MAH.
    expect(row).to.include({ signer: s.mah.key.address.toLowerCase(), signer_organization_id: s.mah.id });
    const agreement = await store.db.selectFrom("agreements").select("kind").where("id", "=", agreementId).executeTakeFirstOrThrow();
    expect(agreement.kind).to.equal("STORAGE");
  });

  it("a well-signed attestation by a key no organization registered is unknown_key", async () => {
    const stranger = Wallet.createRandom();
    await s.ledger.ship(s.cmo, s.distributor, batchId, 10, { key: stranger });
    const forged = s.ledger.logs.at(-1)!;
    const { problems } = await s.ledger.apply(store);
    expect(problems.map((p) => p.verification)).to.deep.equal(["unknown_key"]);
    expect(await eventAt(forged)).to.include({
      verification: "unknown_key",
      signer: stranger.address.toLowerCase(),
      signer_organization_id: null,
      organization_id: s.cmo.id,
    });
  });

  it("an attestation for one organization signed with another organization's key is key_not_of_organization", async () => {
    await s.ledger.ship(s.cmo, s.distributor, batchId, 10, { key: s.distributor.key });
    const forged = s.ledger.logs.at(-1)!;
    const { problems } = await s.ledger.apply(store);
    expect(problems.map((p) => p.verification)).to.deep.equal(["key_not_of_organization"]);
    expect(await eventAt(forged)).to.include({
      verification: "key_not_of_organization",
      signer: s.distributor.key.address.toLowerCase(),
      signer_organization_id: s.distributor.id,
      organization_id: s.cmo.id,
    });
  });

  it("a key is judged as of the event: verified before its revocation, revoked_key after, in one range or across ranges", async () => {
    const l = s.ledger;
    const second = await l.addKey(s.cmo);
    await l.ship(s.cmo, s.distributor, batchId, 10, { key: second });
    const before = l.logs.at(-1)!;
    await l.revokeKey(s.cmo, second.address);
    await l.ship(s.cmo, s.distributor, batchId, 10, { key: second });
    const after = l.logs.at(-1)!;
    const { problems } = await l.apply(store);
    expect(problems.map((p) => [p.blockNumber, p.verification])).to.deep.equal([[after.blockNumber, "revoked_key"]]);
    expect((await eventAt(before)).verification).to.equal("verified");
    expect(await eventAt(after)).to.include({ verification: "revoked_key", signer_organization_id: s.cmo.id });

    await l.ship(s.cmo, s.distributor, batchId, 10, { key: second });
    expect((await l.apply(store)).problems.map((p) => p.verification)).to.deep.equal(["revoked_key"]);
  });

  it("logs that do not decode are recorded as undecodable, reported, and the range goes on", async () => {
    const l = s.ledger;
    const { BatchLedger, ProductRegistry } = l.deployment.contracts;
    const truncated = l.push(BatchLedger, [l.topicOf("BatchLedger", "BatchShipped"), hashText("a"), hashText("b"), hashText("c")], "0x1234");
    const foreignTopic = l.push(ProductRegistry, [hashText("Unrelated(uint256)")], "0x");
    const foreignAddress = l.push(Wallet.createRandom().address, [l.topicOf("BatchLedger", "BatchShipped")], "0x");
    const fine = await l.ship(s.cmo, s.distributor, batchId, 10);

    const { events, problems } = await l.apply(store);
    expect(events).to.equal(4);
    expect(problems.map((p) => [p.blockNumber, p.name, p.verification])).to.deep.equal(
      [truncated, foreignTopic, foreignAddress].map((log) => [log.blockNumber, "Undecodable", "undecodable"]),
    );
    const rows = await Promise.all([truncated, foreignTopic, foreignAddress].map(eventAt));
    expect(rows.map((r) => [r.contract, r.address, r.signer, r.batch_id, r.payload])).to.deep.equal(
      [truncated, foreignTopic, foreignAddress].map((log) => ["unknown", log.address.toLowerCase(), null, null, "{}"]),
    );
    expect(rows[0]!.problem).to.match(/^undecodable log: /);
    expect(rows[1]!.problem).to.equal("not a ledger event");
    expect(rows[2]!.problem).to.equal("log from an address outside the deployment");
    expect(rows.map((r) => r.tx_hash)).to.deep.equal([truncated, foreignTopic, foreignAddress].map((log) => log.transactionHash));
    const shipment = await store.db.selectFrom("shipments").selectAll().where("id", "=", fine).executeTakeFirstOrThrow();
    expect(shipment.status).to.equal("IN_TRANSIT");
    expect(await held(s.cmo.id)).to.equal(90);
  });

  it("the indexer reports each failed event in its log, reaches the head and keeps indexing what follows", async () => {
    const l = s.ledger;
    await l.ship(s.cmo, s.distributor, batchId, 10, { key: Wallet.createRandom() });
    const unknown = l.logs.at(-1)!;
    l.mine(3);
    await l.ship(s.cmo, s.distributor, batchId, 10, { tamper: (shipment) => ({ ...shipment, recipientId: s.distributor2.id }) });
    const tampered = l.logs.at(-1)!;
    l.push(l.deployment.contracts.BatchLedger, [l.topicOf("BatchLedger", "PacksDispensed")], "0x");
    const undecodable = l.logs.at(-1)!;

    const { log, lines } = capturingLogger();
    // A fresh store: the indexer starts from the chain's first block.
    const fresh = await freshStore(kind);
    try {
      const indexer = createIndexer({ source: l.source(), store: fresh, deployment: l.deployment, log, maxRange: 4 });
      expect((await indexer.catchUp()).number).to.equal(l.head);
      const reported = lines.filter((line) => line.level === LEVEL.error);
      expect(reported.map((line) => [line.blockNumber, line.logIndex, line.name, line.verification])).to.deep.equal([
        [unknown.blockNumber, 0, "BatchShipped", "unknown_key"],
        [tampered.blockNumber, 0, "BatchShipped", "signature_mismatch"],
        [undecodable.blockNumber, 0, "Undecodable", "undecodable"],
      ]);

      const later = await l.ship(s.cmo, s.dispenser, batchId, 3);
      expect((await indexer.catchUp()).number).to.equal(l.head);
      const shipment = await fresh.db.selectFrom("shipments").selectAll().where("id", "=", later).executeTakeFirstOrThrow();
      expect(shipment.status).to.equal("IN_TRANSIT");
      const verifications = await fresh.db.selectFrom("ledger_events").select(["verification"]).orderBy("block_number").execute();
      expect(verifications.length).to.equal(l.logs.length);
      expect(verifications.filter((v) => v.verification === "verified").length).to.equal(l.logs.length - 4);
    } finally {
      await fresh.close();
    }
  });
});

/** The same through JSON-RPC: a node (here, a proxy in front of one) that serves a log whose data was changed. */
describe.each(STORE_KINDS)("re-verification of a real chain's tampered log on %s", (kind) => {
  let chain: Awaited<ReturnType<typeof serveChain>>;
  let store: Store;

  beforeAll(async () => {
    chain = await serveChain();
    store = await freshStore(kind);
  });
  afterAll(async () => {
    await store.close();
    await chain.close();
  });

  it("stores the tampered shipment as signature_mismatch and everything else as verified", async () => {
    const c = await deployConsortium();
    const { batchId } = await releasedBatch(c, "B-2024-007", 50n);
    const { shipmentId } = await ship(c, c.cmo, c.distributor, batchId, 20n);
    await handOver(c, c.cmo, c.distributor2, batchId, 5n);

    const iface = new Interface(BatchLedger__factory.abi);
    const shipped = iface.getEvent("BatchShipped")!;
    const rpc = createRpcSource(chain.url);
    const tampering: ChainSource = {
      ...rpc,
      async logs(filter) {
        return (await rpc.logs(filter)).map((log) => {
          if (log.topics[0] !== shipped.topicHash || log.topics[1] !== shipmentId) return log;
          const decoded = iface.decodeEventLog(shipped, log.data, log.topics);
          const shipment = decoded.shipment.toObject();
          const data = iface.encodeEventLog(shipped, [
            decoded.shipmentId,
            decoded.batchId,
            decoded.shipperId,
            { ...shipment, quantity: 2n },
            decoded.signer,
            decoded.signature,
          ]).data;
          return { ...log, data } as Log;
        });
      },
    };
    const indexer = createIndexer({ source: tampering, store, deployment: await deploymentOf(c), log: silentLogger(), maxRange: 3 });
    await indexer.catchUp();
    rpc.close();

    const events = await store.db.selectFrom("ledger_events").selectAll().orderBy("block_number").orderBy("log_index").execute();
    const forged = events.filter((e) => e.verification === "signature_mismatch");
    expect(forged.map((e) => [e.name, JSON.parse(e.payload).shipmentId, JSON.parse(e.payload).quantity])).to.deep.equal([
      ["BatchShipped", shipmentId, 2],
    ]);
    expect(events.filter((e) => e !== forged[0]).every((e) => ["verified", "bootstrap"].includes(e.verification))).to.equal(true);
    expect(events.filter((e) => e.name === "ShipmentReceived")).to.have.length(1);
  });
});
