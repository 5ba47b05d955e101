import { describe, it } from "vitest";
import { expect } from "chai";
import { alertConfig } from "../../src/alerts";
import { DEFAULT_RATING_CONFIG, rate, ratingConfig, RatingConfigError } from "../../src/supervision/rating";

const NOW = 1_800_000_000;
const DAY = 86_400;
const CONFIG = alertConfig().rating;

/** An organization's facts with nothing against it, then `changes`. */
function facts(changes: Partial<Parameters<typeof rate>[0]> = {}): Parameters<typeof rate>[0] {
  return {
    organization: { id: 7, name: "Hangzhou CMO", role: "CMO", region: 330100, status: "ACTIVE", licence_valid_until: null },
    latestInspection: { grade: "COMPLIANT", critical_findings: 0, major_findings: 0, inspected_at: NOW - 100 * DAY, province: 330000 },
    failedSamplings: 0,
    openAlerts: { low: 0, medium: 0, high: 0 },
    overdueAlerts: { low: 0, medium: 0, high: 0 },
    recalls: { I: 0, II: 0, III: 0 },
    productRisk: { points: 0, detail: "no product risk class is recorded on the ledger" },
    ...changes,
  };
}

describe("risk rating", () => {
  it("sums every source's contribution, each with its facts, and grades by the thresholds", () => {
    const clean = rate(facts(), CONFIG, NOW);
    expect([clean.level, clean.score, clean.inspectionsPerYear]).to.deep.equal(["green", 0, 1]);
    expect(clean.contributions.map((c) => c.source)).to.deep.equal([
      "licence",
      "inspections",
      "sampling",
      "openAlerts",
      "overdueAlerts",
      "recalls",
      "productRisk",
    ]);
    const risky = rate(
      facts({
        organization: { ...facts().organization, licence_valid_until: NOW - 1 },
        failedSamplings: 1,
        openAlerts: { low: 0, medium: 1, high: 1 },
        overdueAlerts: { low: 0, medium: 0, high: 1 },
        recalls: { I: 0, II: 1, III: 0 },
      }),
      CONFIG,
      NOW,
    );
    const points = Object.fromEntries(risky.contributions.map((c) => [c.source, c.points]));
    expect(points).to.deep.equal({ licence: 10, inspections: 0, sampling: 4, openAlerts: 7, overdueAlerts: 3, recalls: 4, productRisk: 0 });
    expect([risky.level, risky.score, risky.inspectionsPerYear]).to.deep.equal(["red", 28, 4]);
    expect(risky.contributions.find((c) => c.source === "openAlerts")!.detail).to.equal("open alerts: 1 medium, 1 high");
  });

  it("counts an organization never inspected, and a non-compliant inspection by its findings", () => {
    const never = rate(facts({ latestInspection: undefined }), CONFIG, NOW);
    expect(never.contributions.find((c) => c.source === "inspections")!.points).to.equal(DEFAULT_RATING_CONFIG.weights.notInspected);
    const failed = rate(
      facts({ latestInspection: { grade: "NON_COMPLIANT", critical_findings: 2, major_findings: 1, inspected_at: NOW - DAY, province: 330000 } }),
      CONFIG,
      NOW,
    );
    expect(failed.contributions.find((c) => c.source === "inspections")!.points).to.equal(8 + 2 * 3 + 1);
  });

  it("takes weights and thresholds from configuration", () => {
    const config = ratingConfig({ yellowAt: 1, redAt: 2, weights: { ...DEFAULT_RATING_CONFIG.weights, samplingFailure: 1 } }, CONFIG.caseDueSeconds);
    expect(rate(facts({ failedSamplings: 1 }), config, NOW).level).to.equal("yellow");
  });

  it("refuses nonsensical settings with a RatingConfigError naming the setting, and so does the alert configuration", () => {
    const refused = (overrides: Parameters<typeof ratingConfig>[0], setting: string) => {
      expect(() => ratingConfig(overrides, CONFIG.caseDueSeconds))
        .to.throw(RatingConfigError)
        .with.property("setting", setting);
    };
    refused({ redAt: 4 }, "redAt");
    refused({ yellowAt: 0 }, "yellowAt");
    refused({ weights: { ...DEFAULT_RATING_CONFIG.weights, samplingFailure: -1 } }, "weights.samplingFailure");
    refused({ weights: { ...DEFAULT_RATING_CONFIG.weights, recall: { I: 6, II: 4 } as never } }, "weights.recall.III");
    refused({ inspectionsPerYear: { green: 4, yellow: 2, red: 1 } }, "inspectionsPerYear");
    // "Overdue" is one setting, the case due dates: the rating's old duplicate is refused by name.
    refused({ overdueAfterSeconds: { low: 1, medium: 0, high: 1 } } as never, "overdueAfterSeconds");
    expect(() => alertConfig({ caseDueSeconds: { low: 1, medium: 0, high: 1 } })).to.throw("alert setting caseDueSeconds.medium");
    expect(() => alertConfig({ rating: { ...DEFAULT_RATING_CONFIG, redAt: 1 } })).to.throw("alert setting rating.redAt");
  });
});
