import * as fs from "node:fs";
import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import hre from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { id as hashText, Wallet } from "ethers";
import type { BaseWallet } from "ethers";
import { formatCode, generatePacks, packId } from "../../src/codes";
import { deployConsortium, GTIN } from "../contracts/fixtures";
import type { Consortium, Party } from "../contracts/fixtures";
import { deploymentOf, serveChain } from "../indexer/chain";
import { answerOf, errorOf, hardhatAccountKey, trace, workDir, writeDeployment } from "./helpers";

/**
 * Every attestation command sent straight to a node (--rpc), over a chain served on loopback: each succeeds and
 * changes the chain as it says, and each refusal names the contract's reason, exits 3 and changes nothing.
 */
describe("trace over JSON-RPC", () => {
  let c: Consortium;
  let chain: Awaited<ReturnType<typeof serveChain>>;
  const work = workDir();
  let deployment: string;
  const sender = hardhatAccountKey(2);

  const as = (party: Party | BaseWallet, extra: Record<string, string> = {}) => ({
    TRACE_PRIVATE_KEY: ("key" in party ? party.key : party).privateKey,
    TRACE_SENDER_KEY: sender,
    ...extra,
  });
  const cli = (party: Party | BaseWallet, ...argv: string[]) => trace(as(party), ...argv, "--deployment", deployment, "--json");
  const blockNumber = () => hre.ethers.provider.getBlockNumber();

  /** Runs a command that the ledger must refuse, and checks that no block was added. */
  async function refused(party: Party | BaseWallet, ...argv: string[]) {
    const before = await blockNumber();
    const error = errorOf(await cli(party, ...argv), 3);
    expect(await blockNumber(), "a refused command sends nothing").to.equal(before);
    return error;
  }

  let codes: string[];
  let batchId: string;
  const batchNumber = "CLI-0001";

  beforeAll(async () => {
    chain = await serveChain();
    c = await deployConsortium();
    deployment = writeDeployment(work.file("deployment.json"), await deploymentOf(c), chain.url);
    const packs = [...generatePacks({ scheme: "gs1", productCode: GTIN, key: Buffer.alloc(16, 9), firstIndex: 0, count: 20, batch: batchNumber })];
    codes = packs.map((p) => formatCode(p, "hri"));
    fs.writeFileSync(work.file("codes.txt"), `${codes.join("\n")}\n`);
  });
  afterAll(async () => {
    await chain.close();
    work.remove();
  });

  it("registers a product, looking the MAH up from its key; a second registration is refused with the reason", async () => {
    const answer = answerOf(
      await cli(c.mah, "products", "register", "--code", "6901234", "--approval", "国药准字H20240001", "--name", "Amoxicillin"),
    );
    expect(answer).to.include({
      attestation: "ProductRegistration",
      organizationId: c.mah.id,
      signer: c.mah.key.address,
      productId: hashText("6901234"),
      status: "mined",
    });
    expect(answer.transaction).to.match(/^0x[0-9a-f]{64}$/);
    expect(Number(await c.products.productMah(hashText("6901234")))).to.equal(c.mah.id);

    const error = await refused(c.mah, "products", "register", "--code", "6901234", "--approval", "x", "--name", "again");
    expect(error.code).to.equal("PRODUCT_ALREADY_REGISTERED");
    expect(error.message).to.contain("product 6901234").and.contain("already registered");
    const bad = await refused(c.cmo, "products", "register", "--code", "6901235", "--approval", "x", "--name", "y");
    expect(bad).to.include({ code: "ORGANIZATION_ROLE_MISMATCH" });
    expect(bad.message).to.contain(`organization ${c.cmo.id} is a CMO`);
  });

  it("signs an agreement with both parties' keys, and through a draft the counterparty countersigns", async () => {
    const until = String((await time.latest()) + 365 * 86400);
    const both = answerOf(
      await trace(
        as(c.mah, { TRACE_COUNTERPARTY_PRIVATE_KEY: c.distributor.key.privateKey }),
        "agreements",
        "sign",
        "--kind",
        "storage",
        "--counterparty",
        String(c.distributor.id),
        "--document",
        "storage agreement v1",
        "--until",
        until,
        "--deployment",
        deployment,
        "--json",
      ),
    );
    const terms = await c.products.agreementTerms(both.agreementId);
    expect([Number(terms.mahId), Number(terms.counterpartyId), Number(terms.kind)]).to.deep.equal([c.mah.id, c.distributor.id, 2]);

    const draft = work.file("agreement.json");
    const signed = answerOf(
      await cli(
        c.mah,
        "agreements",
        "sign",
        "--kind",
        "quality",
        "--counterparty",
        String(c.cmo.id),
        "--product",
        GTIN,
        "--document",
        "@" + deployment,
        "--until",
        until,
        "--release-tester",
        "cmo",
        "--sign-only",
        "--out",
        draft,
      ),
    );
    expect(await c.products.agreementTerms(signed.agreementId).then((t) => Number(t.kind)), "a draft is not sent").to.equal(0);
    expect(errorOf(await cli(c.distributor, "agreements", "countersign", draft), 3).code).to.equal("NOT_AGREEMENT_COUNTERPARTY");
    const countersigned = answerOf(await cli(c.cmo, "agreements", "countersign", draft));
    expect(countersigned).to.include({ agreementId: signed.agreementId, mahSigner: c.mah.key.address, organizationId: c.cmo.id });
    expect(Number((await c.products.agreementTerms(signed.agreementId)).counterpartyId)).to.equal(c.cmo.id);

    const missing = errorOf(
      await cli(
        c.mah,
        "agreements",
        "sign",
        "--kind",
        "quality",
        "--counterparty",
        String(c.cmo.id),
        "--product",
        GTIN,
        "--document",
        "x",
        "--until",
        until,
      ),
      2,
    );
    expect(missing.code).to.equal("RELEASE_TESTER_REQUIRED");
    const noCounterparty = errorOf(
      await cli(c.mah, "agreements", "sign", "--kind", "sales", "--counterparty", String(c.cmo.id), "--document", "x", "--until", until),
      2,
    );
    expect(noCounterparty.code).to.equal("COUNTERPARTY_SIGNATURE_REQUIRED");

    const revoked = answerOf(await cli(c.cmo, "agreements", "revoke", signed.agreementId, "--reason", "superseded"));
    expect(revoked.attestation).to.equal("AgreementRevocation");
    expect((await c.products.agreementTerms(signed.agreementId)).revoked).to.equal(true);
    expect((await refused(c.mah, "agreements", "revoke", signed.agreementId, "--reason", "again")).code).to.equal("AGREEMENT_ALREADY_REVOKED");
  });

  it("records a batch from a codes file, committing its Merkle root", async () => {
    const now = await time.latest();
    const args = [
      "batches",
      "record",
      "--agreement",
      c.agreementId,
      "--number",
      batchNumber,
      "--codes",
      work.file("codes.txt"),
      "--tree",
      work.file("batch.tree"),
      "--manufactured",
      String(now - 86400),
      "--expires",
      String(now + 700 * 86400),
      "--record",
      "batch record CLI-0001",
    ];
    const answer = answerOf(await cli(c.cmo, ...args));
    batchId = await c.batches.batchId(c.productId, batchNumber);
    expect(answer).to.include({ attestation: "BatchRecord", batchId: batchId.toLowerCase(), product: GTIN, codes: 20, codesRegistered: 0 });
    expect(await c.batches.codesRoot(batchId)).to.equal(answer.codesRoot);
    expect((await c.batches.holding(batchId, c.cmo.id)).quantity).to.equal(20n);
    expect((await refused(c.cmo, ...args)).code).to.equal("BATCH_ALREADY_RECORDED");
    expect((await refused(c.distributor, ...args)).code).to.equal("ORGANIZATION_ROLE_MISMATCH");
  });

  it("refuses market release while a deviation is open, naming the batch by the number it was given", async () => {
    const ref = `${GTIN}/${batchNumber}`;
    answerOf(await cli(c.cmo, "release", "factory", ref, "--certificate", "QA certificate"));
    answerOf(
      await cli(c.cmo, "deviations", "open", ref, "--kind", "oos", "--severity", "minor", "--category", "laboratory", "--report", "assay 92%"),
    );
    const error = await refused(c.mah, "release", "market", ref, "--decision", "released");
    expect(error.code).to.equal("BATCH_HAS_OPEN_DEVIATIONS");
    expect(error.message).to.contain(`batch ${batchNumber} has 1 open deviation`);
    expect(Number((await c.batches.batch(batchId)).state), "still only factory released").to.equal(2);
    expect(
      (
        await refused(
          c.cmo,
          "deviations",
          "close",
          ref,
          "--report",
          "another report",
          "--root-cause",
          "measurement",
          "--impact",
          "no-impact",
          "--closure",
          "x",
        )
      ).code,
    ).to.equal("DEVIATION_NOT_OPEN");
    answerOf(
      await cli(
        c.cmo,
        "deviations",
        "close",
        ref,
        "--report",
        "assay 92%",
        "--root-cause",
        "measurement",
        "--impact",
        "no-impact",
        "--closure",
        "retest passed",
      ),
    );
    const released = answerOf(await cli(c.mah, "release", "market", batchId, "--decision", "released"));
    expect(released).to.include({ attestation: "MarketRelease", batchId: batchId.toLowerCase() });
    expect(Number((await c.batches.batch(batchId)).state)).to.equal(3);
  });

  it("ships, receives, dispenses packs by code and destroys stock", async () => {
    const shipped = answerOf(await cli(c.cmo, "ship", batchId, "--to", String(c.distributor.id), "--quantity", "10"));
    expect(await c.batches.isInTransit(shipped.shipmentId)).to.equal(true);
    expect(
      (await refused(c.dispenser, "receive", shipped.shipmentId, "--batch", batchId, "--from", String(c.cmo.id), "--shipped", "10")).code,
    ).to.equal("NOT_SHIPMENT_ADDRESSEE");
    const receiveArgs = (shipped.receiveWith as string).split(" ").slice(1);
    answerOf(await cli(c.distributor, ...receiveArgs));
    expect((await c.batches.holding(batchId, c.distributor.id)).quantity).to.equal(10n);
    expect((await refused(c.distributor, "ship", batchId, "--to", String(c.dispenser.id), "--quantity", "11")).message)
      .to.contain("holds 10")
      .and.contain("cannot ship 11");

    const toPharmacy = answerOf(await cli(c.distributor, "ship", batchId, "--to", String(c.dispenser.id), "--quantity", "4"));
    answerOf(await cli(c.dispenser, "receive", toPharmacy.shipmentId, "--batch", batchId, "--from", String(c.distributor.id), "--shipped", "4"));
    const dispensed = answerOf(await cli(c.dispenser, "dispense", batchId, codes[3]!, codes[7]!, "--tree", work.file("batch.tree")));
    expect(dispensed).to.include({ attestation: "Dispensing", packs: 2 });
    const keyOf = (code: string) => code.replace(/\(10\)[^(]*/, "");
    expect(await c.batches.isPackDispensed(packId(keyOf(codes[3]!)))).to.equal(true);
    const twice = await refused(c.dispenser, "dispense", batchId, codes[3]!, "--batch-codes", work.file("codes.txt"));
    expect(twice.code).to.equal("PACK_ALREADY_DISPENSED");
    expect(errorOf(await cli(c.dispenser, "dispense", batchId, codes[4]!), 2).code).to.equal("TREE_REQUIRED");

    const tree = ["--tree", work.file("batch.tree")];
    const held = async () => (await c.batches.holding(batchId, c.dispenser.id)).quantity;
    const locked = answerOf(
      await cli(c.dispenser, "packs", "set", batchId, codes[5]!, "--state", "locked", "--reason", "customer complaint", ...tree),
    );
    expect(locked).to.include({ attestation: "PackStateChange", packs: 1, state: "LOCKED" });
    expect(await held()).to.equal(2n);
    const oneState = await refused(c.dispenser, "packs", "set", batchId, codes[5]!, "--state", "stolen", "--reason", "x", ...tree);
    expect([oneState.code, oneState.message]).to.deep.equal([
      "PACK_NOT_ACTIVE",
      `attestation 0 (PackStateChange) is refused: pack ${packId(keyOf(codes[5]!))} is already locked as suspect: a pack has one state at a time`,
    ]);
    answerOf(await cli(c.dispenser, "packs", "undo", batchId, codes[5]!, "--reason", "complaint unfounded", ...tree));
    answerOf(await cli(c.dispenser, "packs", "undo", batchId, codes[3]!, "--reason", "dispensed in error", ...tree));
    expect([await c.batches.isPackDispensed(packId(keyOf(codes[3]!))), await held()]).to.deep.equal([false, 3n]);
    await time.increase(10 * 24 * 3600 + 1);
    const late = await refused(c.dispenser, "packs", "undo", batchId, codes[7]!, "--reason", "too late", ...tree);
    expect(late.code).to.equal("UNDO_WINDOW_CLOSED");
    expect(late.message).to.match(/could be undone only until .* \(10 days on this ledger\)$/);
    answerOf(await cli(c.dispenser, "packs", "set", batchId, codes[3]!, "--state", "destroyed", "--reason", "broken vial", ...tree));
    expect(Number((await c.batches.packRecord(packId(keyOf(codes[3]!)))).state)).to.equal(2);

    answerOf(await cli(c.dispenser, "destroy", batchId, "--quantity", "2", "--reason", "damaged in transit"));
    expect((await c.batches.holding(batchId, c.dispenser.id)).quantity).to.equal(0n);
  });

  it("holds a batch and releases the hold: no shipping while held, and only the MAH releases it, once its OOS is closed", async () => {
    expect((await refused(c.distributor, "holds", "place", batchId, "--reason", "x")).code).to.equal("NOT_HOLD_AUTHORITY");
    answerOf(await cli(c.regulator, "holds", "place", batchId, "--reason", "complaint cluster"));
    expect((await c.batches.batch(batchId)).onHold).to.equal(true);
    const shipping = await refused(c.cmo, "ship", `${GTIN}/${batchNumber}`, "--to", String(c.distributor.id), "--quantity", "1");
    expect(shipping.code).to.equal("BATCH_ON_HOLD");
    expect(shipping.message).to.contain(`batch ${batchNumber} is on hold awaiting its MAH's decision`);
    expect((await refused(c.regulator, "holds", "release", batchId, "--reason", "x")).code).to.equal("NOT_BATCH_MAH");
    answerOf(
      await cli(c.cmo, "deviations", "open", batchId, "--kind", "oos", "--severity", "minor", "--category", "laboratory", "--report", "assay 88%"),
    );
    expect((await refused(c.mah, "holds", "release", batchId, "--reason", "lab error")).code).to.equal("BATCH_HAS_OPEN_DEVIATIONS");
    answerOf(
      await cli(
        c.cmo,
        "deviations",
        "close",
        batchId,
        "--report",
        "assay 88%",
        "--root-cause",
        "measurement",
        "--impact",
        "no-impact",
        "--closure",
        "lab error confirmed",
      ),
    );
    const released = answerOf(await cli(c.mah, "holds", "release", batchId, "--reason", "lab error"));
    expect(released).to.include({ attestation: "HoldRelease", batchId: batchId.toLowerCase() });
    expect((await c.batches.batch(batchId)).onHold).to.equal(false);
    expect((await refused(c.mah, "holds", "release", batchId, "--reason", "again")).code).to.equal("BATCH_NOT_ON_HOLD");
  });

  it("starts, acknowledges and closes a recall only once reconciled", async () => {
    expect((await refused(c.distributor, "recalls", "start", batchId, "--level", "II", "--reason", "x")).code).to.equal("NOT_RECALL_AUTHORITY");
    answerOf(await cli(c.mah, "recalls", "start", batchId, "--level", "II", "--reason", "sterility failure"));
    expect(Number((await c.batches.batch(batchId)).recall)).to.equal(1);
    const early = await refused(c.mah, "recalls", "close", batchId, "--report", "final report");
    expect(early.code).to.equal("RECALL_NOT_RECONCILED");
    expect(early.message).to.contain("2 holders have not acknowledged");
    answerOf(await cli(c.cmo, "recalls", "acknowledge", batchId, "--quarantined", "10"));
    const short = await refused(c.distributor, "recalls", "acknowledge", `${GTIN}/${batchNumber}`, "--quarantined", "3");
    expect(short.code).to.equal("ACKNOWLEDGEMENT_DOES_NOT_ADD_UP");
    expect(short.message).to.contain(`holds 6 of batch ${batchNumber}, but its acknowledgement accounts for 3`);
    const accounted = answerOf(
      await cli(c.distributor, "recalls", "acknowledge", batchId, "--quarantined", "3", "--dispensed", "1", "--missing", "2"),
    );
    expect(accounted).to.include({
      attestation: "RecallAcknowledgement",
      quarantinedQuantity: "3",
      dispensedQuantity: "1",
      destroyedQuantity: "0",
      missingQuantity: "2",
    });
    expect((await c.batches.holding(batchId, c.distributor.id)).quantity, "what is gone left the holding").to.equal(3n);
    expect((await refused(c.distributor, "recalls", "acknowledge", batchId, "--quarantined", "3")).code).to.equal("RECALL_ALREADY_ACKNOWLEDGED");
    answerOf(await cli(c.mah, "recalls", "close", batchId, "--report", "final report"));
    expect(Number((await c.batches.batch(batchId)).recall)).to.equal(2);
  });

  it("onboards, rotates keys, suspends and reinstates organizations", async () => {
    const first = Wallet.createRandom();
    const onboarded = answerOf(
      await cli(
        c.regulator,
        "organizations",
        "onboard",
        "--name",
        "Wuxi Pharmacy",
        "--role",
        "dispenser",
        "--region",
        "320200",
        "--licence",
        "licence 42",
        "--key",
        first.address,
      ),
    );
    const id = onboarded.onboardedOrganizationId as number;
    expect(id).to.equal(Number(await c.registry.organizationCount()));
    expect(
      (
        await refused(
          c.mah,
          "organizations",
          "onboard",
          "--name",
          "x",
          "--role",
          "mah",
          "--region",
          "1",
          "--licence",
          "x",
          "--key",
          Wallet.createRandom().address,
        )
      ).code,
    ).to.equal("ORGANIZATION_ROLE_MISMATCH");

    const second = Wallet.createRandom();
    expect(answerOf(await cli(first, "organizations", "add-key", second.address))).to.include({ organizationId: id, signingKey: second.address });
    expect((await refused(first, "organizations", "add-key", second.address)).code).to.equal("SIGNING_KEY_ALREADY_REGISTERED");
    answerOf(await cli(second, "organizations", "revoke-key", first.address));
    expect((await c.registry.signingKey(first.address)).revoked).to.equal(true);
    expect(errorOf(await cli(first, "organizations", "add-key", Wallet.createRandom().address), 3).code).to.equal("REVOKED_SIGNING_KEY");
    expect((await refused(second, "organizations", "revoke-key", second.address)).code).to.equal("LAST_SIGNING_KEY");

    answerOf(await cli(c.regulator, "organizations", "suspend", String(id), "--reason", "GMP inspection failed"));
    const suspended = await refused(second, "organizations", "add-key", Wallet.createRandom().address);
    expect(suspended.code).to.equal("ORGANIZATION_SUSPENDED");
    expect((await refused(c.regulator, "organizations", "suspend", String(id), "--reason", "again")).code).to.equal(
      "ORGANIZATION_SUSPENDED".replace("ORGANIZATION", "PARTY"),
    );
    answerOf(await cli(c.regulator, "organizations", "reinstate", String(id), "--reason", "corrected"));
    expect(Number((await c.registry.organization(id)).status)).to.equal(1);
  });

  it("signs with an organization's encrypted keystore; a wrong password sends nothing", async () => {
    const keystore = work.file("mah.json");
    answerOf(
      await trace(
        { TRACE_PRIVATE_KEY: c.mah.key.privateKey, TRACE_KEYSTORE_PASSWORD: "mah password" },
        "keys",
        "create",
        "--import",
        "--out",
        keystore,
        "--json",
      ),
    );
    const register = (password: string, code: string) =>
      trace(
        { TRACE_KEYSTORE_PASSWORD: password, TRACE_SENDER_KEY: sender },
        "products",
        "register",
        "--code",
        code,
        "--approval",
        "国药准字H20240003",
        "--name",
        "Keystore product",
        "--keystore",
        keystore,
        "--deployment",
        deployment,
        "--json",
      );
    const before = await blockNumber();
    expect(errorOf(await register("not the password", "6901237"), 2).code).to.equal("KEYSTORE_WRONG_PASSWORD");
    expect(await blockNumber()).to.equal(before);
    expect(answerOf(await register("mah password", "6901237"))).to.include({ organizationId: c.mah.id, signer: c.mah.key.address });
  });

  it("prints a table by default", async () => {
    const result = await trace(
      as(c.mah),
      "products",
      "register",
      "--code",
      "6901236",
      "--approval",
      "国药准字H20240002",
      "--name",
      "Ibuprofen",
      "--deployment",
      deployment,
    );
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout)
      .to.match(/│ attestation\s+│ ProductRegistration\s+│/)
      .and.match(/│ status\s+│ mined/);
  });

  it("fails precisely on bad arguments, keys, deployments and endpoints", async () => {
    const before = await blockNumber();
    const usage = await trace(as(c.cmo), "ship", batchId, "--to", "0", "--quantity", "5", "--deployment", deployment);
    expect([usage.status, usage.stderr]).to.deep.equal([
      2,
      "error: option '--to <id>' argument '0' is invalid. expected an organization id (a positive integer)",
    ]);
    expect((await trace(as(c.cmo), "ship", "B-1", "--to", "3", "--quantity", "5", "--deployment", deployment)).stderr).to.contain(
      "PRODUCT/BATCHNUMBER",
    );
    expect((await trace(as(c.cmo), "ship", batchId, "--to", "3", "--quantity", "-5", "--deployment", deployment)).status).to.equal(2);
    expect(
      errorOf(
        await trace({ TRACE_PRIVATE_KEY: "0x1234" }, "destroy", batchId, "--quantity", "1", "--reason", "x", "--deployment", deployment, "--json"),
        2,
      ).code,
    ).to.equal("KEY_MALFORMED");
    expect(errorOf(await trace({}, "destroy", batchId, "--quantity", "1", "--reason", "x", "--deployment", deployment, "--json"), 2).code).to.equal(
      "KEY_REQUIRED",
    );
    const foreign = await refused(c.cmo, "destroy", batchId, "--quantity", "1", "--reason", "x", "--org", String(c.distributor.id));
    expect(foreign.code).to.equal("SIGNER_NOT_OF_ORGANIZATION");
    expect(foreign.message).to.contain(`names organization ${c.distributor.id}`).and.contain(`belongs to organization ${c.cmo.id}`);
    const stranger = errorOf(await cli(Wallet.createRandom(), "destroy", batchId, "--quantity", "1", "--reason", "x"), 3);
    expect(stranger.code).to.equal("UNKNOWN_SIGNING_KEY");
    expect(errorOf(await cli(c.cmo, "destroy", batchId, "--quantity", "1", "--reason", "x", "--rpc", "http://127.0.0.1:9"), 4).code).to.equal(
      "RPC_UNREACHABLE",
    );
    const missing = errorOf(
      await trace(as(c.cmo), "destroy", batchId, "--quantity", "1", "--reason", "x", "--deployment", work.file("none.json"), "--json"),
      2,
    );
    expect([missing.code, missing.field]).to.deep.equal(["DEPLOYMENT_UNREADABLE", "--deployment"]);
    const otherChain = writeDeployment(work.file("other.json"), { ...(await deploymentOf(c)), chainId: 5 }, chain.url);
    expect(
      errorOf(await trace(as(c.cmo), "destroy", batchId, "--quantity", "1", "--reason", "x", "--deployment", otherChain, "--json"), 2).code,
    ).to.equal("CHAIN_MISMATCH");
    const poor = errorOf(
      await trace(
        { TRACE_PRIVATE_KEY: c.cmo.key.privateKey },
        "destroy",
        batchId,
        "--quantity",
        "1",
        "--reason",
        "x",
        "--deployment",
        deployment,
        "--json",
      ),
      3,
    );
    expect(poor.code).to.equal("SENDER_UNFUNDED");
    expect(await blockNumber()).to.equal(before);
  });
});
