import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import request from "supertest";
import { coreRoutes } from "../../src/api/app";
import { Role } from "../../src/ledger";
import { buildCodeTree, formatCode, generatePacks, withCheckDigit } from "../../src/codes";
import type { Gs1Pack } from "../../src/codes";
import {
  handOver,
  onboard,
  recordBatch,
  registerProduct,
  releaseFromFactory,
  releaseToMarket,
  SHANGHAI,
  signQualityAgreement,
  startRecall,
} from "../contracts/fixtures";
import type { Party } from "../contracts/fixtures";
import { STORE_KINDS } from "../indexer/stores";
import { apiHarness } from "./harness";
import type { ApiHarness } from "./harness";

/**
 * Who may read what, for every read endpoint, with a second MAH and CMO beside the harness's consortium:
 * - B-2024-001 (released): made by cmo for mah, at distributor and dispenser;
 * - B-2024-002 (recalled, level II): made by cmo for mah, received by distributor, one unit on its way to distributor2;
 * - B-2024-003 (unreleased): made by cmo for mah, held by cmo only;
 * - S-2024-001 (recalled, level III): made by cmo2 for mah2, received by distributor2.
 */
const PARTIES = ["regulator", "regulator2", "mah", "cmo", "distributor", "distributor2", "dispenser", "mah2", "cmo2"] as const;
type PartyName = (typeof PARTIES)[number];
type BatchName = "released" | "recalled" | "unreleased" | "other";

const BATCH_NUMBERS: Record<BatchName, string> = {
  released: "B-2024-001",
  recalled: "B-2024-002",
  unreleased: "B-2024-003",
  other: "S-2024-001",
};

/** Who may read each batch: regulators; its MAH; its CMO; whoever held it or was sent it. */
const READERS: Record<BatchName, PartyName[]> = {
  released: ["regulator", "regulator2", "mah", "cmo", "distributor", "dispenser"],
  recalled: ["regulator", "regulator2", "mah", "cmo", "distributor", "distributor2"],
  unreleased: ["regulator", "regulator2", "mah", "cmo"],
  other: ["regulator", "regulator2", "mah2", "cmo2", "distributor2"],
};

/** Who sees a batch's whole provenance: regulators and the batch's MAH and CMO. */
const PROVENANCE_READERS: Record<BatchName, PartyName[]> = {
  released: ["regulator", "regulator2", "mah", "cmo"],
  recalled: ["regulator", "regulator2", "mah", "cmo"],
  unreleased: ["regulator", "regulator2", "mah", "cmo"],
  other: ["regulator", "regulator2", "mah2", "cmo2"],
};

const BATCHES = Object.keys(BATCH_NUMBERS) as BatchName[];
const GTIN2 = withCheckDigit("0690123456790");

describe.each(STORE_KINDS)("each organization reads only its own (%s)", (kind) => {
  let h: ApiHarness;
  const party = {} as Record<PartyName, Party>;
  const token = {} as Record<PartyName, string>;
  const batchId = {} as Record<BatchName, string>;
  let otherPrinted: string[];

  const get = (path: string, who?: PartyName) => {
    const req = request(h.app).get(path);
    return who ? req.set("authorization", `Bearer ${token[who]}`) : req;
  };
  const post = (path: string, who?: PartyName) => {
    const req = request(h.app).post(path);
    return who ? req.set("authorization", `Bearer ${token[who]}`) : req;
  };
  const statusesOf = async (paths: (who: PartyName) => Promise<{ status: number; body: { error?: { code: string } } }>) => {
    const answers: Record<string, string> = {};
    for (const who of PARTIES) {
      const res = await paths(who);
      answers[who] = res.status === 200 ? "200" : `${res.status} ${res.body.error?.code}`;
    }
    return answers;
  };
  const expected = (readers: PartyName[], refusal: string) =>
    Object.fromEntries(PARTIES.map((who) => [who, readers.includes(who) ? "200" : refusal]));

  beforeAll(async () => {
    h = await apiHarness(kind);
    const { c } = h;
    const mah2 = await onboard(c, Role.Mah, SHANGHAI, "Shanghai Generic Pharma");
    const cmo2 = await onboard(c, Role.Cmo, SHANGHAI, "Shanghai Contract Manufacturing");
    const product2 = await registerProduct(c, mah2, GTIN2);
    const agreement2 = await signQualityAgreement(c, mah2, cmo2, product2);
    const c2 = { ...c, mah: mah2, cmo: cmo2, productId: product2, agreementId: agreement2 };
    const packs = [
      ...generatePacks({ scheme: "gs1", productCode: GTIN2, key: Buffer.alloc(16, 9), firstIndex: 0, count: 6, batch: BATCH_NUMBERS.other }),
    ];
    otherPrinted = packs.map((p) => formatCode(p as Gs1Pack, "hri"));
    const tree = await buildCodeTree(packs.map((p) => p.key));
    batchId.other = await recordBatch(c2, BATCH_NUMBERS.other, { quantity: 6n, codesRoot: tree.root });
    await releaseFromFactory(c2, batchId.other);
    await releaseToMarket(c2, batchId.other);
    await handOver(c2, cmo2, c.distributor2, batchId.other, 3n);
    await startRecall(c2, mah2, batchId.other, 3);
    await h.indexer.catchUp();

    Object.assign(party, {
      regulator: c.regulator,
      regulator2: c.regulator2,
      mah: c.mah,
      cmo: c.cmo,
      distributor: c.distributor,
      distributor2: c.distributor2,
      dispenser: c.dispenser,
      mah2,
      cmo2,
    });
    for (const who of PARTIES) token[who] = await h.tokenFor(party[who]);
    batchId.released = h.batches.released.batchId;
    batchId.recalled = h.batches.recalled.batchId;
    batchId.unreleased = h.batches.unreleased.batchId;
    await post(`/v1/batches/${batchId.released}/codes`, "cmo").send({ codes: h.batches.released.printed }).expect(201);
  });
  afterAll(async () => h?.close());

  it("GET /v1/batches/:id answers regulators, the MAH, the CMO and those who held or were sent the batch", async () => {
    for (const batch of BATCHES) {
      const answers = await statusesOf((who) => get(`/v1/batches/${batchId[batch]}`, who));
      expect([batch, answers]).to.deep.equal([batch, expected(READERS[batch], "403 NOT_YOUR_BATCH")]);
    }
    const res = await get(`/v1/batches/${batchId.other}`, "distributor2").expect(200);
    expect([res.body.batchNumber, res.body.mah.id, res.body.cmo.id]).to.deep.equal([BATCH_NUMBERS.other, party.mah2.id, party.cmo2.id]);
  });

  it("GET /v1/batches/:id/provenance answers only regulators and the batch's MAH and CMO", async () => {
    for (const batch of BATCHES) {
      const answers = await statusesOf((who) => get(`/v1/batches/${batchId[batch]}/provenance`, who));
      const refusal = (who: PartyName) => (READERS[batch].includes(who) ? "403 PROVENANCE_RESTRICTED" : "403 NOT_YOUR_BATCH");
      const want = Object.fromEntries(PARTIES.map((who) => [who, PROVENANCE_READERS[batch].includes(who) ? "200" : refusal(who)]));
      expect([batch, answers]).to.deep.equal([batch, want]);
    }
  });

  it("a batch's provenance shows its own agreements, not another MAH's", async () => {
    const mine = await get(`/v1/batches/${batchId.released}/provenance`, "mah").expect(200);
    const theirs = await get(`/v1/batches/${batchId.other}/provenance`, "mah2").expect(200);
    const agreementsOf = (body: { entries: { event: string; organization: { id: number } | null }[] }) =>
      body.entries.filter((e) => e.event === "AgreementSigned").map((e) => e.organization?.id);
    expect(agreementsOf(mine.body)).to.deep.equal([party.mah.id]);
    expect(agreementsOf(theirs.body)).to.deep.equal([party.mah2.id]);
    const batchesIn = (body: { entries: { details: Record<string, unknown> }[] }) =>
      new Set(body.entries.flatMap((e) => (typeof e.details.batchId === "string" ? [e.details.batchId.toLowerCase()] : [])));
    expect([...batchesIn(mine.body)]).to.deep.equal([batchId.released.toLowerCase()]);
    expect([...batchesIn(theirs.body)]).to.deep.equal([batchId.other.toLowerCase()]);
  });

  it("GET /v1/recalls/:batchId answers the batch's readers; a holder sees only its own line", async () => {
    for (const batch of ["recalled", "other"] as const) {
      const answers = await statusesOf((who) => get(`/v1/recalls/${batchId[batch]}`, who));
      expect([batch, answers]).to.deep.equal([batch, expected(READERS[batch], "403 NOT_YOUR_BATCH")]);
    }
    const holdersSeenBy = async (who: PartyName) =>
      (await get(`/v1/recalls/${batchId.recalled}`, who).expect(200)).body.holders.map((x: { organization: { id: number } }) => x.organization.id);
    for (const who of ["regulator", "regulator2", "mah", "cmo"] as const) {
      expect([who, await holdersSeenBy(who)]).to.deep.equal([who, [party.cmo.id, party.distributor.id]]);
    }
    expect(await holdersSeenBy("distributor")).to.deep.equal([party.distributor.id]);
    expect(await holdersSeenBy("distributor2")).to.deep.equal([]);
  });

  it("GET /v1/recalls/:batchId of a batch never recalled: 404 to its readers, 403 to everyone else", async () => {
    const answers = await statusesOf((who) => get(`/v1/recalls/${batchId.released}`, who));
    const want = Object.fromEntries(PARTIES.map((who) => [who, READERS.released.includes(who) ? "404 NO_RECALL" : "403 NOT_YOUR_BATCH"]));
    expect(answers).to.deep.equal(want);
  });

  it("GET /v1/organizations/:id/inventory answers the organization itself and regulators only", async () => {
    for (const owner of PARTIES) {
      const answers = await statusesOf((who) => get(`/v1/organizations/${party[owner].id}/inventory?includeEmpty=true`, who));
      expect([owner, answers]).to.deep.equal([owner, expected([owner, "regulator", "regulator2"], "403 NOT_YOUR_ORGANIZATION")]);
    }
    const own = await get(`/v1/organizations/${party.distributor2.id}/inventory`, "distributor2").expect(200);
    expect(own.body.holdings.map((x: { batchNumber: string }) => x.batchNumber)).to.deep.equal([BATCH_NUMBERS.other]);
  });

  it("GET /v1/batches lists exactly the batches each organization may read, whatever the filters", async () => {
    const listed = async (who: PartyName, query = "") => {
      const numbers: string[] = [];
      let cursor: string | null = null;
      do {
        const res: request.Response = await get(`/v1/batches?limit=1${query}${cursor ? `&cursor=${cursor}` : ""}`, who).expect(200);
        numbers.push(...res.body.items.map((b: { batchNumber: string }) => b.batchNumber));
        cursor = res.body.nextCursor;
      } while (cursor);
      return numbers.sort();
    };
    for (const who of PARTIES) {
      const want = BATCHES.filter((b) => READERS[b].includes(who))
        .map((b) => BATCH_NUMBERS[b])
        .sort();
      expect([who, await listed(who)]).to.deep.equal([who, want]);
    }
    // Filtering on another organization's batches narrows the caller's own list, never widens it.
    expect(await listed("mah", `&mah=${party.mah2.id}`)).to.deep.equal([]);
    expect(await listed("cmo2", `&cmo=${party.cmo.id}`)).to.deep.equal([]);
    expect(await listed("distributor", `&product=${h.c.productId}`)).to.deep.equal([BATCH_NUMBERS.released, BATCH_NUMBERS.recalled]);
    expect(await listed("dispenser", "&state=RECALLED")).to.deep.equal([]);
    expect(await listed("regulator2", "&state=RECALLED")).to.deep.equal([BATCH_NUMBERS.recalled, BATCH_NUMBERS.other]);
  });

  it("GET /v1/recalls lists exactly the recalls of batches each organization may read", async () => {
    for (const who of PARTIES) {
      const res = await get("/v1/recalls", who).expect(200);
      const numbers = res.body.items.map((r: { batchNumber: string }) => r.batchNumber).sort();
      const want = (["recalled", "other"] as const)
        .filter((b) => READERS[b].includes(who))
        .map((b) => BATCH_NUMBERS[b])
        .sort();
      expect([who, numbers]).to.deep.equal([who, want]);
    }
    const open = await get("/v1/recalls?level=III", "mah").expect(200);
    expect(open.body.items).to.deep.equal([]);
  });

  it("POST /v1/batches/:id/codes is refused to all but the batch's MAH and CMO, and registers nothing when refused", async () => {
    const register = (batch: BatchName, who: PartyName | undefined, codes: string[]) =>
      post(`/v1/batches/${batchId[batch]}/codes`, who).send({ codes });
    const refusals = async (batch: BatchName, codes: string[], parties: [PartyName, PartyName]) => {
      const answers: Record<string, string> = {};
      for (const who of PARTIES.filter((p) => !parties.includes(p))) {
        const res = await register(batch, who, codes);
        answers[who] = `${res.status} ${res.body.error?.code}`;
      }
      return answers;
    };
    const refusal = (batch: BatchName, who: PartyName) => (READERS[batch].includes(who) ? "403 NOT_BATCH_PARTY" : "403 NOT_YOUR_BATCH");
    const want = (batch: BatchName, parties: [PartyName, PartyName]) =>
      Object.fromEntries(PARTIES.filter((p) => !parties.includes(p)).map((who) => [who, refusal(batch, who)]));

    expect(await refusals("unreleased", h.batches.unreleased.printed, ["mah", "cmo"])).to.deep.equal(want("unreleased", ["mah", "cmo"]));
    expect(await refusals("other", otherPrinted, ["mah2", "cmo2"])).to.deep.equal(want("other", ["mah2", "cmo2"]));
    const anonymous = await register("other", undefined, otherPrinted);
    expect([anonymous.status, anonymous.body.error.code]).to.deep.equal([401, "TOKEN_REQUIRED"]);
    const registered = await h.store.db.selectFrom("code_trees").select("batch_id").execute();
    expect(registered.map((r) => r.batch_id)).to.deep.equal([batchId.released]);

    await register("unreleased", "mah", h.batches.unreleased.printed).expect(201);
    await register("other", "cmo2", otherPrinted).expect(201);
  });

  it("a scan gives the custody path and proof only to the batch's readers; everyone gets the verdict", async () => {
    const code = h.batches.released.printed[5]!;
    for (const who of PARTIES) {
      const res = await post("/v1/scans", who).send({ code }).expect(200);
      const reader = READERS.released.includes(who);
      expect([who, "custody" in res.body, "proof" in res.body]).to.deep.equal([who, reader, reader]);
      expect(res.body.batch.batchNumber).to.equal(BATCH_NUMBERS.released);
    }
  });

  it("every organization route refuses an anonymous caller with 401 TOKEN_REQUIRED", async () => {
    const organizationRoutes = coreRoutes.filter((r) => r.access === "organization");
    expect(organizationRoutes.length).to.be.greaterThan(5);
    for (const route of organizationRoutes) {
      const path = route.path.replace(":batchId", batchId.recalled).replace(":organizationId", String(party.distributor.id));
      const res = await request(h.app)
        [route.method](path)
        .send(route.method === "post" ? { codes: ["x"] } : undefined);
      expect([route.method, route.path, res.status, res.body.error?.code]).to.deep.equal([route.method, route.path, 401, "TOKEN_REQUIRED"]);
    }
  });

  it("organization details are public", async () => {
    for (const who of PARTIES) {
      const res = await get(`/v1/organizations/${party[who].id}`).expect(200);
      expect(res.body.keys.map((k: { address: string }) => k.address)).to.deep.equal([party[who].key.address.toLowerCase()]);
    }
  });
});
