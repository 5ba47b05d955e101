import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "vitest";
import { expect } from "chai";
import fc from "fast-check";
import { backoffDelay } from "../../src/notifications/dispatcher";
import { kindMatches } from "../../src/notifications/kinds";
import { newSecret, signWebhook, verifyWebhook } from "../../src/notifications/signature";

describe("webhook signatures", () => {
  const secret = newSecret();
  const body = JSON.stringify({ id: 7, kind: "alert.shipment_overdue" });

  it("verifies what it signed", () => {
    expect(verifyWebhook(secret, body, signWebhook(secret, body, 1_800_000_000), 1_800_000_100)).to.equal(true);
  });

  it("rejects another body, another secret, an old timestamp, and a malformed header", () => {
    const header = signWebhook(secret, body, 1_800_000_000);
    expect(verifyWebhook(secret, `${body} `, header, 1_800_000_000)).to.equal(false);
    expect(verifyWebhook(newSecret(), body, header, 1_800_000_000)).to.equal(false);
    expect(verifyWebhook(secret, body, header, 1_800_000_000 + 301)).to.equal(false);
    for (const bad of [undefined, "", "t=abc,v1=00", `t=1800000000`, "v1=deadbeef", header.replace(/v1=../, "v1=zz")]) {
      expect(verifyWebhook(secret, body, bad, 1_800_000_000), String(bad)).to.equal(false);
    }
  });
});

describe("webhook retry backoff", () => {
  it("doubles from the base delay up to the cap, with jitter within the upper half", () => {
    const config = { baseDelayMs: 1_000, maxDelayMs: 60_000 };
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempts, random) => {
        const ceiling = Math.min(60_000, 1_000 * 2 ** (attempts - 1));
        const delay = backoffDelay(config, attempts, () => random);
        return delay >= ceiling / 2 && delay <= ceiling;
      }),
    );
    expect(backoffDelay(config, 1, () => 0)).to.equal(500);
    expect(backoffDelay(config, 40, () => 0.999999)).to.equal(60_000);
  });
});

describe("notification kinds", () => {
  it("matches exact kinds and the three patterns only", () => {
    expect(kindMatches(["*"], "ledger.BatchShipped")).to.equal(true);
    expect(kindMatches(["alert.*"], "alert.shipment_overdue")).to.equal(true);
    expect(kindMatches(["alert.*"], "ledger.BatchShipped")).to.equal(false);
    expect(kindMatches(["ledger.RecallStarted"], "ledger.RecallStartedX")).to.equal(false);
  });

  it("are declared by the alert engine that raises them: src/notifications imports nothing from src/alerts", () => {
    const dir = path.join(__dirname, "../../src/notifications");
    const importers = readdirSync(dir).filter((file) => /from "\.\.\/alerts[/"]/.test(readFileSync(path.join(dir, file), "utf8")));
    expect(importers).to.deep.equal([]);
  });
});
