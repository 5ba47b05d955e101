import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import request from "supertest";
import { aggregationTree, buildCodeTree, packId, withCheckDigit } from "../../src/codes";
import type { Aggregate } from "../../src/codes";
import { receive, recordBatch, releaseFromFactory, releaseToMarket, startRecall } from "../contracts/fixtures";
import type { Party } from "../contracts/fixtures";
import { recoverAggregations } from "../../src/api/cases";
import { apiHarness, packsFor } from "./harness";
import type { ApiHarness } from "./harness";

const sscc = (i: number) => `(00)${withCheckDigit(`0061414110000000${i}`)}`;
const [CASE_A, CASE_B, PALLET] = [sscc(1), sscc(2), sscc(3)];

describe("cases and pallets (SSCC) through the API", () => {
  let h: ApiHarness;
  let batchId: string;
  let packs: string[];
  let aggregates: Aggregate[];
  const token = (party: Party) => h.tokenFor(party);
  const scan = async (code: string, party?: Party) => {
    const call = request(h.app).post("/v1/scans").send({ code });
    if (party) call.set("authorization", `Bearer ${await token(party)}`);
    return (await call.expect(200)).body;
  };

  beforeAll(async () => {
    h = await apiHarness();
    const codes = await packsFor("B-CASE-001", 8);
    packs = codes.packs.map((p) => p.key);
    batchId = await recordBatch(h.c, "B-CASE-001", { quantity: 8n, codesRoot: codes.tree.root });
    await releaseFromFactory(h.c, batchId);
    await releaseToMarket(h.c, batchId);
    aggregates = [
      { container: CASE_A, contents: packs.slice(0, 4), contentsRoot: "" },
      { container: CASE_B, contents: packs.slice(4), contentsRoot: "" },
      { container: PALLET, contents: [CASE_A, CASE_B], contentsRoot: "" },
    ];
    const tree = aggregationTree(aggregates);
    const { message, signature } = await h.c.sign("AggregationLedger", "AggregationCommitment", h.c.cmo.key, {
      cmoId: h.c.cmo.id,
      batchId,
      aggregationRoot: tree.root,
      containers: tree.containers,
      packs: tree.packs,
    });
    await h.c.aggregations.commitAggregation(message as never, signature);
    await h.indexer.catchUp();
  });
  afterAll(async () => {
    await h.close();
  });

  const register = async (party: Party, body: object, status: number) =>
    request(h.app)
      .post(`/v1/batches/${batchId}/aggregation`)
      .set("authorization", `Bearer ${await token(party)}`)
      .send(body)
      .expect(status);
  const asBody = (list: Aggregate[]) => ({ aggregates: list.map(({ container, contents }) => ({ container, contents })) });

  it("indexes the committed aggregation", async () => {
    const row = await h.store.db.selectFrom("batch_aggregations").selectAll().where("batch_id", "=", batchId.toLowerCase()).executeTakeFirstOrThrow();
    expect([Number(row.containers), Number(row.packs), row.committed_by]).to.deep.equal([3, 8, h.c.cmo.id]);
  });

  it("answers an SSCC no one registered as unknown: scan the packs", async () => {
    const body = await scan(CASE_A);
    expect(body.verdict).to.equal("UNKNOWN_CODE");
    expect(body.reason).to.match(/no case or pallet with this SSCC is registered/);
  });

  it("refuses a registration that does not hash to the committed root, or by a stranger, and keeps nothing", async () => {
    const swapped = [
      { ...aggregates[0]!, contents: [packs[4]!, ...packs.slice(1, 4)] },
      { ...aggregates[1]!, contents: [packs[0]!, ...packs.slice(5)] },
      aggregates[2]!,
    ];
    expect((await register(h.c.cmo, asBody(swapped), 422)).body.error.code).to.equal("AGGREGATION_ROOT_MISMATCH");
    expect((await register(h.c.distributor, asBody(aggregates), 403)).body.error.code).to.equal("NOT_YOUR_BATCH");
    const pack = { aggregates: [{ container: packs[0], contents: [packs[1]] }] };
    expect((await register(h.c.cmo, pack, 400)).body.error.code).to.equal("CODE_NOT_A_CONTAINER");
    const badCheckDigit = { aggregates: [{ container: CASE_A.slice(0, -1) + ((Number(CASE_A.at(-1)) + 1) % 10), contents: packs }] };
    expect((await register(h.c.cmo, badCheckDigit, 400)).body.error.code).to.equal("CODE_BAD_CHECK_DIGIT");
    expect(await h.store.db.selectFrom("aggregation_units").selectAll().execute()).to.deep.equal([]);
  });

  it("registers the batch's cases and pallet once", async () => {
    const { body } = await register(h.c.cmo, asBody(aggregates), 201);
    expect(body).to.deep.include({ containers: 3, packs: 8 });
    expect((await register(h.c.cmo, asBody(aggregates), 409)).body.error.code).to.equal("AGGREGATION_ALREADY_REGISTERED");
  });

  it("registers the cases and pallet again in a store that lost them, from the kept registration, checked against the root", async () => {
    const pairs = () =>
      h.store.db.selectFrom("aggregation_units").select(["container_key", "unit_key"]).orderBy("container_key").orderBy("unit_key").execute();
    const registered = await pairs();
    const file = path.join(h.services.config.dataDir, "trees", `${batchId.toLowerCase()}.aggregates.json`);
    const kept = readFileSync(file, "utf8");
    // A rebuilt store holds the chain's commitment (batch_aggregations) but none of the pairs registered off-chain.
    await h.store.db.deleteFrom("aggregation_units").execute();
    expect((await scan(CASE_A)).verdict).to.equal("UNKNOWN_CODE");
    // A kept file that no longer hashes to the committed root is refused, and nothing is registered.
    const tampered = asBody([{ ...aggregates[0]!, contents: packs.slice(0, 3) }, aggregates[1]!, aggregates[2]!]).aggregates;
    writeFileSync(file, JSON.stringify(tampered));
    const refusedOne = await recoverAggregations(h.services);
    expect(refusedOne.reregistered).to.deep.equal([]);
    expect(refusedOne.refused.map((r) => r.batchId)).to.deep.equal([batchId.toLowerCase()]);
    expect(refusedOne.refused[0]!.reason).to.contain("hash to");
    expect(await pairs()).to.deep.equal([]);
    writeFileSync(file, kept);
    expect(await recoverAggregations(h.services)).to.deep.equal({ reregistered: [batchId.toLowerCase()], refused: [] });
    expect(await pairs()).to.deep.equal(registered);
    expect(await recoverAggregations(h.services), "nothing left to register").to.deep.equal({ reregistered: [], refused: [] });
  });

  it("answers a scanned case with its batch, verdict and contents, and a proof the contract accepts", async () => {
    const anonymous = await scan(CASE_A);
    expect(anonymous.verdict).to.equal("GENUINE");
    expect(anonymous.reason).to.match(/^a case of released batch B-CASE-001, expiring .*; this case holds 4 of the 4 packs packed in it/);
    expect(anonymous.batch.id).to.equal(batchId.toLowerCase());
    expect(anonymous.container).to.deep.include({ sscc: CASE_A, kind: "case", parent: PALLET, units: 4, packs: 4, unpacked: 0 });
    expect(anonymous.container.proof).to.equal(undefined);
    const pallet = await scan(`https://id.gs1.org/00/${PALLET.slice(4)}`, h.c.cmo);
    expect(pallet.container).to.deep.include({ kind: "pallet", units: 2, packs: 8, parent: null });
    const { containerId, unitId, proof } = pallet.container.proof;
    expect(await h.c.aggregations.isUnitInContainer(batchId, containerId, unitId, proof)).to.equal(true);
    expect(containerId).to.equal(packId(PALLET));
  });

  describe("shipping and receiving by the case, unpacking at picking", () => {
    let shipmentId: string;

    beforeAll(async () => {
      const root = (await buildCodeTree([CASE_A, CASE_B])).root;
      const { message, signature } = await h.c.sign("BatchLedger", "Shipment", h.c.cmo.key, {
        shipperId: h.c.cmo.id,
        batchId,
        recipientId: h.c.distributor.id,
        quantity: 8n,
        codesRoot: root,
      });
      await h.c.batches.shipBatch(message as never, signature);
      shipmentId = await h.c.batches.shipmentId(h.c.cmo.id, message.nonce);
      await h.indexer.catchUp();
    });

    it("names the shipment's cases only when they hash to its codes root, by its shipper", async () => {
      const post = async (party: Party, units: string[], status: number) =>
        request(h.app)
          .post(`/v1/shipments/${shipmentId}/units`)
          .set("authorization", `Bearer ${await token(party)}`)
          .send({ units })
          .expect(status);
      expect((await post(h.c.cmo, [CASE_A], 422)).body.error.code).to.equal("SHIPMENT_ROOT_MISMATCH");
      expect((await post(h.c.distributor, [CASE_A, CASE_B], 403)).body.error.code).to.equal("NOT_SHIPPER");
      expect((await post(h.c.cmo, [CASE_A, CASE_B], 201)).body).to.deep.include({ units: 2, packs: 8 });
    });

    it("reconciles the cases scanned on receipt pack by pack and records the differences", async () => {
      const reconcile = async (party: Party, scanned: string[], status: number) =>
        request(h.app)
          .post(`/v1/shipments/${shipmentId}/reconciliation`)
          .set("authorization", `Bearer ${await token(party)}`)
          .send({ scanned })
          .expect(status);
      expect((await reconcile(h.c.cmo, [CASE_A], 403)).body.error.code).to.equal("NOT_SHIPMENT_ADDRESSEE");
      const stranger = h.batches.released.packs[7]!.key;
      const { body } = await reconcile(h.c.distributor, [CASE_A, packs[5]!, stranger], 201);
      expect(body).to.deep.include({ shippedQuantity: 8, expectedPacks: 8, receivedPacks: 5 });
      expect(body.missing.map((m: { code: string }) => m.code).sort()).to.deep.equal([packs[4], packs[6], packs[7]].sort());
      expect(body.missing[0].container).to.equal(CASE_B);
      expect(body.unexpected).to.deep.equal([{ code: stranger, container: null }]);
      const read = await request(h.app)
        .get(`/v1/shipments/${shipmentId}/reconciliation`)
        .set("authorization", `Bearer ${await token(h.c.mah)}`)
        .expect(200);
      expect(read.body).to.deep.equal(body);
      await receive(h.c, h.c.distributor, h.c.cmo, batchId, shipmentId, 8n, 5n);
      await h.indexer.catchUp();
      expect((await reconcile(h.c.distributor, [CASE_A], 422)).body.error.code).to.equal("SHIPMENT_NOT_IN_TRANSIT");
    });

    it("keeps the hierarchy true when packs are taken out of a case: the case no longer counts them", async () => {
      const tree = aggregationTree(aggregates);
      const { units, proof, proofFlags } = tree.multiProof(CASE_A, [packs[1]!]);
      const { message, signature } = await h.c.sign("AggregationLedger", "Unpacking", h.c.distributor.key, {
        organizationId: h.c.distributor.id,
        batchId,
        containerId: packId(CASE_A),
        units,
      });
      await h.c.aggregations.unpackUnits(message as never, proof, proofFlags, signature);
      await h.indexer.catchUp();
      const body = await scan(CASE_A, h.c.distributor);
      expect(body.container).to.deep.include({ units: 3, packs: 3, unpacked: 1 });
      expect(body.reason).to.match(/holds 3 of the 4 packs packed in it: 1 was taken out at picking/);
      expect((await scan(PALLET, h.c.distributor)).container.packs).to.equal(7);
      const contents = await request(h.app)
        .get(`/v1/cases/${encodeURIComponent(CASE_A)}`)
        .set("authorization", `Bearer ${await token(h.c.distributor)}`)
        .expect(200);
      expect(contents.body.units.find((u: { code: string }) => u.code === packs[1]).inside).to.equal(false);
      expect(contents.body.packs).to.equal(3);
    });

    it("answers a case of a recalled batch as recalled", async () => {
      await startRecall(h.c, h.c.mah, batchId, 2);
      await h.indexer.catchUp();
      expect((await scan(CASE_B)).verdict).to.equal("RECALLED");
    });
  });
});
