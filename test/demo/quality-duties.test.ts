import { describe, it } from "vitest";
import { expect } from "chai";
import hre from "hardhat";
import { Wallet, id as hashText } from "ethers";
import { DEFAULT_ALERT_CONFIG } from "../../src/alerts/config";
import { evaluateDeadlines } from "../../src/alerts/deadlines";
import { deployLedger } from "../../src/chain/deploy";
import { PRODUCTS } from "../../src/demo/organizations";
import { seedDemo } from "../../src/demo/seed";
import { createIndexer, createRpcSource } from "../../src/indexer";
import { PersonRole, previousQuarter, quarterAt } from "../../src/ledger";
import { silentLogger } from "../../src/log";
import { serveChain } from "../indexer/chain";
import { freshStore } from "../indexer/stores";

/**
 * The demo's history shows the quality duties: risk classes, the QP who signs the Jiangsu MAH's releases, the contract
 * laboratory's certificates of the Zhejiang CMO's metformin batches, the sterile batch's records, and a quarterly
 * review overdue with its early warning.
 */
describe("demo seed: the MAH's quality duties", () => {
  it("records them on the chain and the indexer reads them back; the missing quarter's review is overdue", async () => {
    const chain = await serveChain();
    const store = await freshStore("sqlite");
    const [relayer] = await hre.ethers.getSigners();
    const regulatorKey = Wallet.createRandom();
    try {
      const deployment = await deployLedger(hre, {
        firstRegulator: {
          name: "江苏省药品监督管理局 Jiangsu Medical Products Administration",
          region: 320000,
          licence: "Jiangsu",
          signingKey: regulatorKey.address,
        },
        rpcUrl: chain.url,
      });
      const now = (await hre.ethers.provider.getBlock("latest"))!.timestamp;
      const seed = await seedDemo({ deployment, relayer: relayer!, regulatorKey, now });
      const source = createRpcSource(chain.url);
      try {
        await createIndexer({ source, store, deployment, log: silentLogger() }).catchUp();
      } finally {
        source.close();
      }
      const { db } = store;
      expect(await db.selectFrom("ledger_events").select("name").where("problem", "is not", null).execute()).to.deep.equal([]);
      const classes = await db.selectFrom("product_risk_classes").select(["product_id", "risk_class"]).execute();
      expect(classes.find((c) => c.product_id === hashText(PRODUCTS.ceftriaxone.productCode))?.risk_class).to.equal("STERILE");
      const persons = await db.selectFrom("responsible_persons").select(["name", "role"]).where("role", "=", "QUALIFIED_PERSON").execute();
      expect(persons.map((p) => p.name)).to.deep.equal(["张丽华 Zhang Lihua", "张丽华 Zhang Lihua"]);
      // the QP's releases state her name and role in the attestation; the others, the MAH's own key and no name
      const releases = await db.selectFrom("ledger_events").select("payload").where("name", "=", "BatchMarketReleased").execute();
      const signers = releases.map((r) => JSON.parse(r.payload) as { signerName: string; signerRole: number });
      expect(signers.filter((r) => r.signerName === "张丽华 Zhang Lihua" && r.signerRole === PersonRole.QualifiedPerson)).to.have.length(3);
      expect(signers.filter((r) => r.signerName === "" && r.signerRole === PersonRole.Organization)).to.have.length(signers.length - 3);
      const records = await db.selectFrom("batch_quality_records").selectAll().execute();
      expect(records.filter((r) => r.certificate_passed === 1)).to.have.length(3);
      expect(records.filter((r) => r.sterile_records_at !== null)).to.have.length(1);
      const roles = await db.selectFrom("organizations").select("role").where("role", "=", "LABORATORY").execute();
      expect(roles).to.have.length(1);

      const notices = await db.selectFrom("quality_notices").select(["kind", "acknowledged_at"]).orderBy("sent_at").orderBy("kind").execute();
      expect(notices.map((n) => [n.kind, n.acknowledged_at !== null])).to.have.deep.members([
        ["CHANGE_CONTROL", true],
        ["AUDIT_FINDING", false],
      ]);

      expect(await db.selectFrom("communication_terms").select("countersigned_by").execute())
        .to.have.length(1)
        .and.not.deep.include({ countersigned_by: null });
      const metformin = hashText(PRODUCTS.metformin.productCode);
      expect(await db.selectFrom("shortage_listings").select(["product_id", "listed"]).execute()).to.deep.equal([
        { product_id: metformin, listed: 1 },
      ]);
      expect(await db.selectFrom("stop_production_reports").select("product_id").execute()).to.deep.equal([{ product_id: metformin }]);
      const samples = await db.selectFrom("retained_samples").selectAll().execute();
      expect(samples.map((r) => [r.quantity, r.approved_by !== null])).to.deep.equal([[24, true]]);

      const { drafts } = await db.transaction().execute((trx) => evaluateDeadlines(trx, DEFAULT_ALERT_CONFIG, now));
      const overdue = drafts.filter((d) => d.rule === "quality_review_overdue");
      const missing = previousQuarter(previousQuarter(quarterAt(now)));
      expect(overdue.map((d) => [d.subject, d.details.year, d.details.quarter])).to.deep.equal([
        [hashText(PRODUCTS.atorvastatin.productCode), missing.year, missing.quarter],
      ]);
      // Minutes later the MAH's unchecked supplier-audit CAPA is overdue, beside the failed one.
      const later = await db.transaction().execute((trx) => evaluateDeadlines(trx, DEFAULT_ALERT_CONFIG, now + 3600));
      expect(later.drafts.filter((d) => d.rule === "capa_overdue").map((d) => d.organizationId)).to.deep.equal([
        seed.organizations.find((o) => o.role === "MAH")!.organizationId,
      ]);
      const capas = await db.selectFrom("capas").select("status").execute();
      expect(capas.map((c) => c.status).sort()).to.deep.equal(["INEFFECTIVE", "OPEN", "OPEN"]);
    } finally {
      await store.close();
      await chain.close();
    }
  });
});
