import { describe, it } from "vitest";
import { expect } from "chai";
import { alertConfig, DEFAULT_ALERT_CONFIG } from "../../src/alerts";

describe("alert configuration", () => {
  it("defaults to the documented thresholds, and overrides only what is given", () => {
    expect(alertConfig()).to.deep.equal(DEFAULT_ALERT_CONFIG);
    const config = alertConfig({ shipmentReceiptSeconds: 3 * 86_400 });
    expect(config.shipmentReceiptSeconds).to.equal(3 * 86_400);
    expect(config.nearExpirySeconds).to.equal(DEFAULT_ALERT_CONFIG.nearExpirySeconds);
    expect(DEFAULT_ALERT_CONFIG.recallDeadlines.I).to.deep.equal({ acknowledge: 86_400, progressReport: 86_400 });
  });

  it("refuses a nonsensical setting by name", () => {
    expect(() => alertConfig({ shipmentReceiptSeconds: 0 })).to.throw("shipmentReceiptSeconds");
    expect(() => alertConfig({ unknownSerials: { count: 2.5, windowSeconds: 60 } })).to.throw("unknownSerials.count");
    expect(() => alertConfig({ maxBusyShare: 0 })).to.throw("maxBusyShare");
    expect(() => alertConfig({ recallDeadlines: { ...DEFAULT_ALERT_CONFIG.recallDeadlines, II: { acknowledge: -1, progressReport: 1 } } })).to.throw(
      "recallDeadlines.II.acknowledge",
    );
    expect(() => alertConfig({ rating: { ...DEFAULT_ALERT_CONFIG.rating, yellowAt: 6, redAt: 5 } })).to.throw("rating.redAt");
  });
});
