import * as fs from "node:fs";
import { afterAll, describe, it } from "vitest";
import { expect } from "chai";
import { Wallet } from "ethers";
import { run } from "../../src/cli/main";
import { answerOf, errorOf, trace, workDir } from "./helpers";

/** Keystores: made by `trace keys create`, read by every command with --keystore; every failure is precise. */
describe("trace keys", () => {
  const work = workDir();
  afterAll(() => work.remove());
  const password = { TRACE_KEYSTORE_PASSWORD: "correct horse battery" };

  it("creates a keystore that decrypts to the printed address, and never overwrites one", async () => {
    const created = answerOf(await trace(password, "keys", "create", "--out", work.file("new.json"), "--json"));
    expect(created.address).to.match(/^0x[0-9a-fA-F]{40}$/);
    expect(fs.statSync(work.file("new.json")).mode & 0o777).to.equal(0o600);
    expect(answerOf(await trace(password, "keys", "address", "--keystore", work.file("new.json"), "--json"))).to.deep.equal({
      address: created.address,
    });
    const again = errorOf(await trace(password, "keys", "create", "--out", work.file("new.json"), "--json"), 2);
    expect([again.code, again.field]).to.deep.equal(["KEYSTORE_EXISTS", "--out"]);
    expect(
      answerOf(await trace(password, "keys", "address", "--keystore", work.file("new.json"), "--json")).address,
      "the keystore is intact",
    ).to.equal(created.address);
  });

  it("imports the key in TRACE_PRIVATE_KEY, asking for the password on a terminal", async () => {
    const key = Wallet.createRandom();
    const out: string[] = [];
    const prompts: string[] = [];
    const io = {
      out: (text: string) => out.push(text),
      err: () => undefined,
      interactive: true,
      env: { TRACE_PRIVATE_KEY: key.privateKey },
      readSecret: async (prompt: string) => (prompts.push(prompt), "typed at the prompt"),
    };
    expect(await run(["node", "trace", "keys", "create", "--import", "--out", work.file("imported.json"), "--json"], io)).to.equal(0);
    expect(JSON.parse(out[0]!).address).to.equal(key.address);
    expect(prompts).to.deep.equal([`password for ${work.file("imported.json")}: `]);
    const read = await trace(
      { TRACE_KEYSTORE_PASSWORD: "typed at the prompt" },
      "keys",
      "address",
      "--keystore",
      work.file("imported.json"),
      "--json",
    );
    expect(answerOf(read).address).to.equal(key.address);
  });

  it("fails precisely on a wrong password, an unreadable or malformed file, a missing password or a bad key", async () => {
    const wrong = errorOf(
      await trace({ TRACE_KEYSTORE_PASSWORD: "wrong password" }, "keys", "address", "--keystore", work.file("new.json"), "--json"),
      2,
    );
    expect(wrong).to.deep.equal({
      code: "KEYSTORE_WRONG_PASSWORD",
      message: `wrong password for keystore ${work.file("new.json")}`,
      field: "--keystore",
    });
    expect(errorOf(await trace(password, "keys", "address", "--keystore", work.file("missing.json"), "--json"), 2).code).to.equal(
      "KEYSTORE_UNREADABLE",
    );
    fs.writeFileSync(work.file("notes.json"), '{"hello": "world"}');
    expect(errorOf(await trace(password, "keys", "address", "--keystore", work.file("notes.json"), "--json"), 2).code).to.equal("KEYSTORE_MALFORMED");
    const noPassword = await trace({}, "keys", "address", "--keystore", work.file("new.json"));
    expect(noPassword.status).to.equal(2);
    expect(noPassword.stderr).to.equal(
      `error PASSWORD_REQUIRED: keystore ${work.file("new.json")} needs a password: set TRACE_KEYSTORE_PASSWORD (no terminal to ask on)`,
    );
    expect(errorOf(await trace({ TRACE_PRIVATE_KEY: "not a key" }, "keys", "address", "--json"), 2).code).to.equal("KEY_MALFORMED");
    expect(errorOf(await trace({ TRACE_PRIVATE_KEY: `0x${"0".repeat(64)}` }, "keys", "address", "--json"), 2).code).to.equal("KEY_MALFORMED");
    expect(errorOf(await trace({ TRACE_KEYSTORE_PASSWORD: "short" }, "keys", "create", "--out", work.file("short.json"), "--json"), 2).code).to.equal(
      "PASSWORD_TOO_SHORT",
    );
    expect(fs.existsSync(work.file("short.json"))).to.equal(false);
  });
});
