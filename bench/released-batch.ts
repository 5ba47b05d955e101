/**
 * A released batch for the API benchmarks (bench:codes-upload, bench:relay-attack): its packs and their root, the read
 * model the indexer would have written for it (seeded directly into a SQLite store), and the client side of
 * registering its codes — the CMO signs in and streams them to POST /v1/batches/:batchId/codes.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { Wallet, keccak256, toUtf8Bytes, id as hashText } from "ethers";
import { createTreeWriter, formatCode, generatePacks, withCheckDigit } from "../src/codes";
import type { Gs1Pack } from "../src/codes";
import type { RoleName } from "../src/ledger";
import { endOfChinaDay } from "../src/ledger/expiry";
import { createStore, newFactsVersion } from "../src/store";

export const GTIN = withCheckDigit("0690123456100");
export const SERIAL_KEY = Buffer.from(hashText("bench codes-upload serial key").slice(2, 34), "hex");
export const BATCH_NUMBER = "U00001";
export const EXPIRY_YYMMDD = "281231";
/** The packs print expiry 2028-12-31: the batch is valid to the end of that day, China time. */
export const EXPIRES_AT = endOfChinaDay("2028-12-31");
export const SEEDED_AT = Date.UTC(2026, 0, 5) / 1000;
export const CMO_KEY = hashText("bench codes-upload cmo key");
export const ORG = { regulator: 1, mah: 2, cmo: 3 };
export const hex32 = (label: string) => keccak256(toUtf8Bytes(label));

export const packsOf = (count: number) =>
  generatePacks({
    scheme: "gs1",
    productCode: GTIN,
    key: SERIAL_KEY,
    firstIndex: 0,
    count,
    batch: BATCH_NUMBER,
    expiry: EXPIRY_YYMMDD,
  }) as Generator<Gs1Pack>;

/** Writes the codes as printed (GS1 element strings with ]d2 and GS separators), one a line; returns their root. */
export async function writeCodes(count: number, codesFile: string, dir: string): Promise<{ root: string; sample: Gs1Pack }> {
  const writer = await createTreeWriter(path.join(dir, "root.tree"), { expectedCount: count });
  const fd = fs.openSync(codesFile, "w");
  let lines: string[] = [];
  let sample: Gs1Pack | undefined;
  let n = 0;
  for (const pack of packsOf(count)) {
    writer.add(pack.key);
    lines.push(formatCode(pack, "element-string", { symbologyId: "]d2" }));
    if (n++ === Math.floor(count / 2)) sample = pack;
    if (lines.length === 100_000) {
      fs.writeSync(fd, `${lines.join("\n")}\n`);
      lines = [];
    }
  }
  if (lines.length > 0) fs.writeSync(fd, `${lines.join("\n")}\n`);
  fs.closeSync(fd);
  const { root, path: treePath } = writer.finish();
  fs.rmSync(treePath);
  return { root, sample: sample! };
}

/** The read model the indexer would have written for a released batch of `count` codes recorded by the CMO. */
export async function seedStore(dbFile: string, count: number, root: string): Promise<string> {
  const store = createStore(dbFile);
  await store.migrate();
  const organizations: { id: number; role: RoleName; region: number; name: string }[] = [
    { id: ORG.regulator, role: "REGULATOR", region: 320000, name: "Jiangsu Medical Products Administration" },
    { id: ORG.mah, role: "MAH", region: 320000, name: "Bench MAH" },
    { id: ORG.cmo, role: "CMO", region: 330000, name: "Bench CMO" },
  ];
  await store.db
    .insertInto("organizations")
    .values(
      organizations.map((o) => ({
        ...o,
        licence_hash: hex32(`licence ${o.id}`),
        status: "ACTIVE",
        onboarded_by: ORG.regulator,
        onboarded_at: SEEDED_AT,
      })),
    )
    .execute();
  await store.db
    .insertInto("signing_keys")
    .values(
      organizations.map((o) => ({
        address: (o.id === ORG.cmo ? new Wallet(CMO_KEY).address : Wallet.createRandom().address).toLowerCase(),
        organization_id: o.id,
        revoked: 0,
        added_at: SEEDED_AT,
        revoked_at: null,
      })),
    )
    .execute();
  const productId = hashText(GTIN);
  await store.db
    .insertInto("products")
    .values({
      id: productId,
      product_code: GTIN,
      approval_number: "国药准字H20260001",
      name: "Bench product",
      mah_id: ORG.mah,
      registered_at: SEEDED_AT,
    })
    .execute();
  const agreementId = hex32("bench codes-upload agreement");
  await store.db
    .insertInto("agreements")
    .values({
      id: agreementId,
      kind: "QUALITY",
      mah_id: ORG.mah,
      counterparty_id: ORG.cmo,
      product_id: productId,
      document_hash: hex32("quality agreement"),
      approval: "NOT_REQUIRED",
      valid_from: SEEDED_AT - 86_400,
      valid_until: SEEDED_AT + 3 * 365 * 86_400,
      release_tester: "CMO",
      revoked: 0,
      signed_at: SEEDED_AT,
      revoked_at: null,
    })
    .execute();
  const batchId = keccak256(toUtf8Bytes(`${productId}|${BATCH_NUMBER}`));
  await store.db
    .insertInto("batches")
    .values({
      id: batchId,
      product_id: productId,
      batch_number: BATCH_NUMBER,
      mah_id: ORG.mah,
      cmo_id: ORG.cmo,
      agreement_id: agreementId,
      quantity: count,
      manufactured_at: SEEDED_AT - 30 * 86_400,
      expires_at: EXPIRES_AT,
      batch_record_hash: hex32(`batch record ${BATCH_NUMBER}`),
      codes_root: root,
      state: "MARKET_RELEASED",
      recall_status: "NONE",
      recall_level: null,
      hold_status: "NONE",
      open_deviations: 0,
      in_transit: 0,
      dispensed: 0,
      destroyed: 0,
      stolen: 0,
      sampled: 0,
      exported: 0,
      missing: 0,
      recorded_at: SEEDED_AT,
      factory_released_at: SEEDED_AT + 60,
      market_released_at: SEEDED_AT + 120,
      release_refused_at: null,
      release_refusal_hash: null,
      facts_version: newFactsVersion(),
    })
    .execute();
  await store.db.insertInto("holdings").values({ batch_id: batchId, organization_id: ORG.cmo, quantity: count, recall_acknowledged: 0 }).execute();
  await store.db
    .insertInto("sync_state")
    .values({ id: 1, chain_id: 31337, genesis_hash: hex32("genesis"), deployment: "bench", block_number: 1, block_hash: hex32("block 1") })
    .execute();
  await store.close();
  return batchId;
}

export async function signIn(url: string, key: string) {
  const wallet = new Wallet(key);
  const challenge = (await (
    await fetch(`${url}/v1/auth/challenge`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ key: wallet.address }),
    })
  ).json()) as { challenge: string; text: string };
  const signature = await wallet.signMessage(challenge.text);
  const res = await fetch(`${url}/v1/auth/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ key: wallet.address, challenge: challenge.challenge, signature }),
  });
  if (!res.ok) throw new Error(`sign-in answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

/** Streams the file as a chunked text/plain body (no Content-Length); resolves with the answer and when the body was sent. */
export function upload(
  port: number,
  batchId: string,
  token: string,
  codesFile: string,
): Promise<{ status: number; body: string; sentMs: number; answeredMs: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    let sentMs = 0;
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        method: "POST",
        path: `/v1/batches/${batchId}/codes`,
        headers: { "content-type": "text/plain; charset=utf-8", authorization: `Bearer ${token}` },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on("data", (part: Buffer) => parts.push(part));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString("utf8"), sentMs, answeredMs: performance.now() - started }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.on("finish", () => (sentMs = performance.now() - started));
    fs.createReadStream(codesFile, { highWaterMark: 1 << 16 }).pipe(req);
  });
}
