import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import request from "supertest";
import { sealClearSecrets, secretBox, SecretBoxError } from "../../src/notifications/secret-box";
import { alertHarness } from "../alerts/harness";
import type { AlertHarness } from "../alerts/harness";

const SECRET = "whsec_0123456789abcdef";

function refusal(open: () => string): Error {
  try {
    open();
  } catch (error) {
    return error as Error;
  }
  throw new Error("it opened");
}

/** The sealed secret with one bit flipped, once in each byte: nonce, tag and ciphertext alike. */
function everyOneBitAlteration(sealed: string): string[] {
  const prefix = sealed.slice(0, sealed.lastIndexOf(".") + 1);
  const bytes = Buffer.from(sealed.slice(prefix.length), "base64url");
  return [...bytes.keys()].map((at) => {
    const altered = Buffer.from(bytes);
    altered[at] ^= 1 << (at % 8);
    return `${prefix}${altered.toString("base64url")}`;
  });
}

describe("webhook secrets sealed with the API secret", () => {
  it("open only with the API secret and the subscription they were sealed for, and not once altered", () => {
    const box = secretBox(randomBytes(32));
    const sealed = box.seal(SECRET, "sub_a");
    expect(sealed)
      .to.match(/^aes256gcm\.v1\./)
      .and.not.to.contain(SECRET);
    expect(box.seal(SECRET, "sub_a")).not.to.equal(sealed);
    expect(box.open(sealed, "sub_a")).to.equal(SECRET);
    expect(refusal(() => secretBox(randomBytes(32)).open(sealed, "sub_a")))
      .to.be.instanceOf(SecretBoxError)
      .and.have.property("message")
      .that.contains("does not open with this API secret");
    expect(refusal(() => box.open(sealed, "sub_b"))).to.be.instanceOf(SecretBoxError);
    for (const altered of everyOneBitAlteration(sealed)) {
      expect(refusal(() => box.open(altered, "sub_a"))).to.be.instanceOf(SecretBoxError);
    }
    expect(refusal(() => box.open(SECRET, "sub_a")).message).to.contain("is not sealed");
  });

  describe("in the store", () => {
    let h: AlertHarness;
    beforeAll(async () => {
      h = await alertHarness("sqlite", {}, { allowPrivateAddresses: true });
    });
    afterAll(async () => {
      await h?.close();
    });

    it("a new subscription's secret is stored sealed; the answer carries it in the clear, once", async () => {
      const subscribed = await request(h.app)
        .post("/v1/subscriptions")
        .set("authorization", await h.bearer(h.c.distributor))
        .send({ url: "https://receiver.example/hook", kinds: ["*"] })
        .expect(201);
      const row = await h.store.db
        .selectFrom("webhook_subscriptions")
        .select("secret")
        .where("id", "=", subscribed.body.id)
        .executeTakeFirstOrThrow();
      expect(row.secret)
        .to.match(/^aes256gcm\.v1\./)
        .and.not.to.contain(subscribed.body.secret);
      expect(secretBox(h.services.config.secret).open(row.secret, subscribed.body.id)).to.equal(subscribed.body.secret);
    });

    it("secrets stored in the clear by an earlier version are sealed, once", async () => {
      await h.store.db
        .insertInto("webhook_subscriptions")
        .values({
          id: "sub_legacy",
          organization_id: h.c.distributor.id,
          url: "https://receiver.example/old",
          kinds: '["*"]',
          secret: SECRET,
          description: null,
          status: "active",
          after_notification_id: 0,
          created_at: 1,
          deleted_at: null,
        })
        .execute();
      const box = secretBox(h.services.config.secret);
      expect(await sealClearSecrets(h.store, box)).to.equal(1);
      expect(await sealClearSecrets(h.store, box)).to.equal(0);
      const row = await h.store.db.selectFrom("webhook_subscriptions").select("secret").where("id", "=", "sub_legacy").executeTakeFirstOrThrow();
      expect(row.secret).not.to.contain(SECRET);
      expect(box.open(row.secret, "sub_legacy")).to.equal(SECRET);
    });
  });
});
