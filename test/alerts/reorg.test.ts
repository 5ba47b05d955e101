import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import hre from "hardhat";
import { handOver, receive, releasedBatch, ship } from "../contracts/fixtures";
import { STORE_KINDS } from "../indexer/stores";
import { alertHarness } from "./harness";
import type { AlertHarness } from "./harness";

const send = (method: string, params: unknown[] = []) => hre.network.provider.send(method, params) as Promise<unknown>;

/**
 * A reorg removes indexed events: alerts they raised must not stay open as if nothing happened. They are retracted,
 * everyone told of them is told of the retraction, and the new branch is evaluated afresh.
 */
describe.each(STORE_KINDS)("alerts across reorgs (%s)", (kind) => {
  let h: AlertHarness;
  let stock: string;

  beforeAll(async () => {
    h = await alertHarness(kind);
    stock = (await releasedBatch(h.c, "REORG-STOCK", 1000n)).batchId;
    await h.sync();
  });
  afterAll(async () => h?.close());

  async function shortReceipt(quantity: bigint) {
    const { shipmentId } = await ship(h.c, h.c.cmo, h.c.distributor2, stock, quantity);
    await receive(h.c, h.c.distributor2, h.c.cmo, stock, shipmentId, quantity, quantity - 1n);
    return shipmentId;
  }

  it("retracts an alert whose event a longer branch replaced, tells its recipients, and evaluates the new branch", async () => {
    const snapshot = await send("evm_snapshot");
    const abandoned = await shortReceipt(5n);
    await h.sync();
    const [raised] = await h.alerts("receipt_quantity_mismatch");
    expect(raised).to.include({ subject: abandoned, status: "open" });
    const told = await h.store.db.selectFrom("notifications").select("organization_id").where("alert_id", "=", raised!.id).execute();

    await send("evm_revert", [snapshot]);
    await handOver(h.c, h.c.cmo, h.c.distributor2, stock, 5n);
    const kept = await shortReceipt(3n);
    await send("hardhat_mine", ["0x10"]);
    const progress = await h.sync();
    expect(progress.retracted).to.equal(1);

    const alerts = await h.alerts("receipt_quantity_mismatch");
    expect(alerts.map((a) => [a.subject, a.status])).to.deep.equal([
      [abandoned, "retracted"],
      [kept, "open"],
    ]);
    const retractions = await h.store.db
      .selectFrom("notifications")
      .select("organization_id")
      .where("alert_id", "=", raised!.id)
      .where("kind", "=", "alert.retracted")
      .execute();
    expect(retractions.map((n) => n.organization_id).sort()).to.deep.equal(told.map((n) => n.organization_id).sort());
    // Every evaluated block is a block of the chain the indexer follows now.
    const evaluated = await h.store.db.selectFrom("alert_blocks").selectAll().execute();
    for (const block of evaluated) {
      const onChain = (await send("eth_getBlockByNumber", [`0x${block.block_number.toString(16)}`, false])) as { hash: string };
      expect(onChain.hash).to.equal(block.block_hash);
    }
  });

  it("retracts when the new chain is shorter, and re-raises nothing twice on a second pass", async () => {
    const snapshot = await send("evm_snapshot");
    const abandoned = await shortReceipt(4n);
    await h.sync();
    await send("evm_revert", [snapshot]);
    const progress = await h.sync();
    expect(progress.retracted).to.equal(1);
    const alert = (await h.alerts("receipt_quantity_mismatch")).find((a) => a.subject === abandoned);
    expect(alert?.status).to.equal("retracted");
    const before = await h.store.db
      .selectFrom("notifications")
      .select((eb) => eb.fn.countAll().as("n"))
      .executeTakeFirstOrThrow();
    const again = await h.sync();
    expect(again).to.deep.equal({ events: 0, observations: 0, alerts: 0, retracted: 0, resolved: 0 });
    const after = await h.store.db
      .selectFrom("notifications")
      .select((eb) => eb.fn.countAll().as("n"))
      .executeTakeFirstOrThrow();
    expect(Number(after.n)).to.equal(Number(before.n));
  });
});
