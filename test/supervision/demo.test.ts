import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import hre from "hardhat";
import { Wallet } from "ethers";
import { alertConfig, createAlertEngine } from "../../src/alerts";
import { deployLedger } from "../../src/chain/deploy";
import { seedDemo } from "../../src/demo/seed";
import { JIANGSU_REGULATOR } from "../../src/demo/organizations";
import { createIndexer, createRpcSource } from "../../src/indexer";
import { silentLogger } from "../../src/log";
import type { Store } from "../../src/store";
import { casesOf } from "../../src/supervision/cases";
import { serveChain } from "../indexer/chain";
import { freshStore } from "../indexer/stores";

/** The demo's supervision: an alert under investigation, one closed with a reason, a report filed and terminated. */
describe("the demo's alert cases and suspect-product report", () => {
  let store: Store;
  let chain: Awaited<ReturnType<typeof serveChain>>;
  let source: ReturnType<typeof createRpcSource>;
  const config = alertConfig();

  beforeAll(async () => {
    chain = await serveChain();
    const regulatorKey = Wallet.createRandom();
    const deployment = await deployLedger(hre, {
      firstRegulator: {
        name: JIANGSU_REGULATOR.name,
        region: JIANGSU_REGULATOR.region,
        licence: JIANGSU_REGULATOR.licence,
        signingKey: regulatorKey.address,
      },
      rpcUrl: chain.url,
    });
    const [relayer] = await hre.ethers.getSigners();
    const latest = await hre.ethers.provider.getBlock("latest");
    await seedDemo({ deployment, relayer: relayer!, regulatorKey, now: latest!.timestamp });
    store = await freshStore("sqlite");
    source = createRpcSource(chain.url);
    await createIndexer({ source, store, deployment, log: silentLogger() }).catchUp();
    await createAlertEngine({ store, config, log: silentLogger(), now: () => latest!.timestamp }).catchUp();
  });
  afterAll(async () => {
    source?.close();
    await store?.close();
    await chain?.close();
  });

  it("has an alert under investigation by the organization it is about and one closed by a regulator with a reason", async () => {
    const alerts = await store.db.selectFrom("alerts").selectAll().execute();
    const cases = await casesOf(store.db, alerts, config.caseDueSeconds, 0);
    const byRule = (rule: string) => {
      const alert = alerts.find((a) => a.rule === rule)!;
      return { alert, case: cases.get(Number(alert.id))! };
    };
    const receipt = byRule("receipt_quantity_mismatch");
    expect(receipt.case).to.include({ status: "UNDER_INVESTIGATION", ownerId: receipt.alert.organization_id });
    const shortfall = byRule("recall_acknowledgement_shortfall");
    expect(shortfall.case).to.include({ status: "CLOSED", ownerId: 1 });
    expect(shortfall.case.reasonHash).to.match(/^0x[0-9a-f]{64}$/);
  });

  it("has a suspect-product report filed by a distributor and terminated by a regulator, its pack unlocked again", async () => {
    const [report] = await store.db.selectFrom("suspect_reports").selectAll().execute();
    const filer = await store.db.selectFrom("organizations").select("role").where("id", "=", report!.filed_by).executeTakeFirstOrThrow();
    const terminator = await store.db.selectFrom("organizations").select("role").where("id", "=", report!.terminated_by!).executeTakeFirstOrThrow();
    expect([filer.role, report!.status, report!.outcome, terminator.role]).to.deep.equal(["DISTRIBUTOR", "TERMINATED", "CLEARED", "REGULATOR"]);
    const [pack] = JSON.parse(report!.packs) as string[];
    const state = await store.db.selectFrom("pack_states").select("state").where("pack", "=", pack!).executeTakeFirstOrThrow();
    expect(state.state).to.equal("ACTIVE");
  });
});
