/** A long ledger history for tests that stop an indexer part way through its backfill. */
import hre from "hardhat";
import { AbiCoder, Wallet, id as hashText, keccak256, ZeroHash } from "ethers";
import { Role } from "../../src/ledger";
import { releasedBatch, ZHEJIANG } from "../contracts/fixtures";
import type { Consortium, Party } from "../contracts/fixtures";

/** Attestations per multicall transaction. */
const BUNDLE = 50;
const SHIPMENTS = 950;
const ONBOARDINGS = 100;
const DESTRUCTIONS = 50;

const send = (method: string, params: unknown[] = []) => hre.network.provider.send(method, params) as Promise<unknown>;
const abi = AbiCoder.defaultAbiCoder();

/** Sends `calls` to a ledger contract in bundles, with a few empty blocks after each so the history spans many blocks. */
async function bundled(contract: { multicall(calls: string[], overrides: { gasLimit: number }): Promise<unknown> }, calls: string[]) {
  for (let i = 0; i < calls.length; i += BUNDLE) {
    await contract.multicall(calls.slice(i, i + BUNDLE), { gasLimit: 29_000_000 });
    await send("hardhat_mine", ["0x3"]);
  }
}

/** Onboardings, then many small shipments and their receipts (some short), and destructions: ~2,000 events. */
export async function largeHistory(c: Consortium) {
  const { batchId } = await releasedBatch(c, "CRASH-1", 1_000_000n);

  const onboardings: string[] = [];
  for (let i = 0; i < ONBOARDINGS; i++) {
    const name = `Pharmacy ${i}`;
    const { message, signature } = await c.sign("ConsortiumRegistry", "Onboarding", c.regulator.key, {
      regulatorId: c.regulator.id,
      role: Role.Dispenser,
      region: ZHEJIANG,
      licenceHash: hashText(name),
      signingKey: Wallet.createRandom().address,
      name,
    });
    onboardings.push(c.registry.interface.encodeFunctionData("onboardOrganization", [message as never, signature]));
  }
  await bundled(c.registry, onboardings);

  const recipients: Party[] = [c.distributor, c.distributor2];
  const shipments: string[] = [];
  const receipts: string[] = [];
  for (let i = 0; i < SHIPMENTS; i++) {
    const to = recipients[i % 2]!;
    const quantity = BigInt(1 + (i % 3));
    const shipped = await c.sign("BatchLedger", "Shipment", c.cmo.key, {
      shipperId: c.cmo.id,
      batchId,
      recipientId: to.id,
      quantity,
      codesRoot: ZeroHash,
    });
    shipments.push(c.batches.interface.encodeFunctionData("shipBatch", [shipped.message as never, shipped.signature]));
    const shipmentId = keccak256(abi.encode(["uint32", "uint256"], [c.cmo.id, shipped.message.nonce]));
    const received = await c.sign("BatchLedger", "Receipt", to.key, {
      recipientId: to.id,
      shipmentId,
      batchId,
      shipperId: c.cmo.id,
      shippedQuantity: quantity,
      receivedQuantity: i % 7 === 0 ? quantity - 1n : quantity,
    });
    receipts.push(c.batches.interface.encodeFunctionData("receiveShipment", [received.message as never, received.signature]));
  }
  await bundled(c.batches, shipments);
  await bundled(c.batches, receipts);

  const destructions: string[] = [];
  for (let i = 0; i < DESTRUCTIONS; i++) {
    const holder = recipients[i % 2]!;
    const { message, signature } = await c.sign("BatchLedger", "Destruction", holder.key, {
      holderId: holder.id,
      batchId,
      quantity: 1n,
      reasonHash: hashText(`damaged ${i}`),
    });
    destructions.push(c.batches.interface.encodeFunctionData("destroyStock", [message as never, signature]));
  }
  await bundled(c.batches, destructions);
}
