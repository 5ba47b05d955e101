import { describe, it } from "vitest";
import { expect } from "chai";
import { returnPath } from "../../src/web/public/assets/return-path.js";

describe("the address sign-in returns to", () => {
  const origin = "https://ledger.example";

  it("keeps a path of the site, with its query and fragment", () => {
    expect(returnPath("/batches", origin)).to.equal("/batches");
    expect(returnPath("/recalls/B-1?view=all#late", origin)).to.equal("/recalls/B-1?view=all#late");
    expect(returnPath(`${origin}/batches`, origin)).to.equal("/batches");
  });

  it("goes home for anything that would land on another origin", () => {
    for (const next of [
      "/\\evil.example",
      "/\\/evil.example",
      "/\t/evil.example",
      "/\n/evil.example",
      "//evil.example/batches",
      "\\\\evil.example",
      "https://evil.example/batches",
      "http://ledger.example/batches",
      "https://ledger.example:8443/batches",
      "javascript:alert(1)",
      "data:text/html,<script>alert(1)</script>",
    ]) {
      expect(returnPath(next, origin), JSON.stringify(next)).to.equal("/");
    }
  });

  it("goes home when there is no next address", () => {
    expect(returnPath(null, origin)).to.equal("/");
    expect(returnPath("", origin)).to.equal("/");
  });
});
