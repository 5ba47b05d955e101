import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import request from "supertest";
import { silentLogger } from "../../src/log";
import { isPrivateAddress, literalHostRefusal, NotPublicError, pinnedLookup } from "../../src/notifications/address";
import type { ResolvedAddress } from "../../src/notifications/address";
import { createDispatcher } from "../../src/notifications/dispatcher";
import { handOver, releasedBatch } from "../contracts/fixtures";
import { alertHarness } from "../alerts/harness";
import type { AlertHarness } from "../alerts/harness";
import { webhookReceiver } from "./receiver";
import type { WebhookReceiver } from "./receiver";

describe("private address ranges", () => {
  it("classifies loopback, link-local, private and reserved addresses as private, and the rest as public", () => {
    const inside = [
      "127.0.0.1",
      "127.255.255.254",
      "0.0.0.0",
      "10.0.0.1",
      "100.64.0.1",
      "169.254.169.254",
      "172.16.0.1",
      "172.31.255.255",
      "192.168.0.1",
      "192.0.0.8",
      "198.18.0.1",
      "224.0.0.1",
      "255.255.255.255",
      "::",
      "::1",
      "fc00::1",
      "fd12:3456::1",
      "fe80::1",
      "febf::1",
      "ff02::1",
      "::ffff:127.0.0.1",
      "::ffff:a9fe:a9fe",
      "64:ff9b::a00:1",
    ];
    const outside = [
      "8.8.8.8",
      "93.184.215.14",
      "172.32.0.1",
      "172.15.255.255",
      "100.128.0.1",
      "2606:4700::1111",
      "2001:db8::1",
      "64:ff9b::808:808",
      "::ffff:8.8.8.8",
    ];
    expect(inside.filter((address) => !isPrivateAddress(address))).to.deep.equal([]);
    expect(outside.filter((address) => isPrivateAddress(address))).to.deep.equal([]);
    expect(() => isPrivateAddress("localhost")).to.throw("not an IP address");
  });

  it("classes IPv6 forms that carry an IPv4 address by the IPv4 address they carry", () => {
    // Teredo carries its client's address inverted (XOR 0xffffffff) in the last 32 bits, its server's in bits 32-63.
    const teredo = (server: string, client: string) => {
      const [a, b, c, d] = client.split(".").map((octet) => Number(octet) ^ 255) as [number, number, number, number];
      const [s1, s2, s3, s4] = server.split(".").map(Number) as [number, number, number, number];
      const hex = (x: number, y: number) => ((x << 8) | y).toString(16);
      return `2001:0:${hex(s1, s2)}:${hex(s3, s4)}:8000:63bf:${hex(a, b)}:${hex(c, d)}`;
    };
    const inside = [
      "2002:7f00:1::1", // 6to4 of 127.0.0.1
      "2002:a9fe:a9fe::", // 6to4 of 169.254.169.254
      "2002:c0a8:101:1::1", // 6to4 of 192.168.1.1
      teredo("65.54.227.120", "10.0.0.1"),
      teredo("65.54.227.120", "127.0.0.1"),
      teredo("192.168.0.1", "8.8.8.8"),
      "::ffff:0:7f00:1", // IPv4-translated 127.0.0.1
      "::ffff:0:a9fe:a9fe", // IPv4-translated 169.254.169.254
      "::ffff:0:10.1.2.3",
      "::ffff:10.1.2.3", // IPv4-mapped
      "::ffff:c0a8:1",
      "64:ff9b::7f00:1", // NAT64 of 127.0.0.1
      "64:ff9b::192.168.0.1",
      "64:ff9b:1::a00:1", // NAT64 local use: its IPv4 may sit anywhere, and it is local by definition
    ];
    const outside = [
      "2002:808:808::1",
      teredo("65.54.227.120", "8.8.4.4"),
      "::ffff:0:808:808",
      "::ffff:0:8.8.8.8",
      "64:ff9b::8.8.8.8",
      "2001:4860:4860::8888",
    ];
    expect(inside.filter((address) => !isPrivateAddress(address))).to.deep.equal([]);
    expect(outside.filter((address) => isPrivateAddress(address))).to.deep.equal([]);
    expect(literalHostRefusal(new URL("http://[2002:7f00:1::1]/hook"))).to.be.a("string");
    expect(literalHostRefusal(new URL(`http://[${teredo("65.54.227.120", "169.254.169.254")}]/hook`))).to.be.a("string");
  });

  it("refuses a URL by its literal host: private addresses and names of this machine, not other names", () => {
    for (const url of ["http://127.1/", "http://[::1]:8080/", "http://localhost/", "http://Api.Localhost./", "http://0/"]) {
      expect(literalHostRefusal(new URL(url)), url).to.be.a("string");
    }
    for (const url of ["https://hooks.example.com/", "https://8.8.8.8/", "https://localhost.example.com/"]) {
      expect(literalHostRefusal(new URL(url)), url).to.equal(null);
    }
  });

  it("checks every resolved address, and the lookup it returns answers with exactly those addresses", async () => {
    const calls: string[] = [];
    const resolve = async (host: string): Promise<ResolvedAddress[]> => {
      calls.push(host);
      return [
        { address: "93.184.215.14", family: 4 },
        { address: "fd00::5", family: 6 },
      ];
    };
    const refused = await pinnedLookup(new URL("https://hooks.example.com/x"), { allowPrivateAddresses: false, resolve }).catch((e: unknown) => e);
    expect(refused).to.be.instanceOf(NotPublicError);
    expect((refused as Error).message).to.equal(
      "WEBHOOK_URL_NOT_PUBLIC: hooks.example.com resolves to fd00::5, a loopback, link-local or private address",
    );
    // A private literal is refused without asking DNS.
    const literal = await pinnedLookup(new URL("http://[::1]/x"), { allowPrivateAddresses: false, resolve }).catch((e: unknown) => e);
    expect(literal).to.be.instanceOf(NotPublicError);
    expect(calls).to.deep.equal(["hooks.example.com"]);

    const lookup = await pinnedLookup(new URL("https://hooks.example.com/x"), { allowPrivateAddresses: true, resolve });
    const answer = (options: { all?: boolean; family?: number }) =>
      new Promise<unknown>((done) =>
        lookup("anything.example", options, (error, address, family) => done(error ? (error as NodeJS.ErrnoException).code : [address, family])),
      );
    expect(await answer({ all: true })).to.deep.equal([
      [
        { address: "93.184.215.14", family: 4 },
        { address: "fd00::5", family: 6 },
      ],
      undefined,
    ]);
    expect(await answer({})).to.deep.equal(["93.184.215.14", 4]);
    expect(await answer({ family: 6 })).to.deep.equal(["fd00::5", 6]);
    expect(calls).to.deep.equal(["hooks.example.com", "hooks.example.com"]);
  });
});

describe("webhook deliveries and private addresses", () => {
  let h: AlertHarness;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    // The default: the guard is on.
    h = await alertHarness();
    receiver = await webhookReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
    await h?.close();
  });

  it("refuses a delivery to a name that resolves to loopback, logs it and retries with the normal backoff; delivers to the checked address once opted in", async () => {
    await h.sync();
    // A name, not a literal, so the subscription is accepted; .test never resolves through real DNS.
    const url = receiver.url.replace("127.0.0.1", "hooks.example.test");
    const subscribed = await request(h.app)
      .post("/v1/subscriptions")
      .set("authorization", await h.bearer(h.c.distributor))
      .send({ url, kinds: ["ledger.*"] })
      .expect(201);
    receiver.setSecret(subscribed.body.secret);
    const { batchId } = await releasedBatch(h.c, "GUARDED", 10n);
    await handOver(h.c, h.c.cmo, h.c.distributor, batchId, 1n);
    await h.sync();

    const resolved: string[] = [];
    const resolve = async (host: string): Promise<ResolvedAddress[]> => {
      resolved.push(host);
      return [{ address: "127.0.0.1", family: 4 }];
    };
    let now = Date.now();
    const guarded = createDispatcher({
      store: h.store,
      log: silentLogger(),
      apiSecret: h.services.config.secret,
      config: { baseDelayMs: 1_000, maxDelayMs: 1_000 },
      clock: () => now,
      resolve,
      random: () => 0,
    });
    const first = await guarded.runOnce();
    await guarded.stop();
    expect(first.attempted).to.be.greaterThan(0);
    expect(first.delivered).to.equal(0);
    expect(receiver.received).to.deep.equal([]);
    expect(resolved).to.have.length(first.attempted);

    const deliveries = async () =>
      (
        await request(h.app)
          .get(`/v1/subscriptions/${subscribed.body.id}/deliveries`)
          .set("authorization", await h.bearer(h.c.distributor))
          .expect(200)
      ).body.deliveries as {
        status: string;
        attempts: number;
        nextAttemptAt: number | null;
        lastError: string | null;
        log: { statusCode: number | null; error: string | null }[];
      }[];
    const refused = await deliveries();
    expect(refused).to.have.length(first.attempted);
    const error = "WEBHOOK_URL_NOT_PUBLIC: hooks.example.test resolves to 127.0.0.1, a loopback, link-local or private address";
    for (const delivery of refused) {
      // A failed attempt like any other: pending, the first backoff ahead (half the base delay with no jitter).
      expect(delivery).to.include({ status: "pending", attempts: 1, lastError: error, nextAttemptAt: now + 500 });
      expect(delivery.log).to.deep.equal([{ ...delivery.log[0], statusCode: null, error }]);
    }
    // Not due yet: a refusal does not make the dispatcher try again at once.
    const early = createDispatcher({ store: h.store, log: silentLogger(), apiSecret: h.services.config.secret, clock: () => now, resolve });
    expect(await early.runOnce()).to.deep.include({ attempted: 0 });
    await early.stop();

    now += 1_000;
    resolved.length = 0;
    const optedIn = createDispatcher({
      store: h.store,
      log: silentLogger(),
      apiSecret: h.services.config.secret,
      config: { allowPrivateAddresses: true },
      clock: () => now,
      resolve,
    });
    const second = await optedIn.runOnce();
    await optedIn.stop();
    // hooks.example.test exists only in the injected resolver: the connection went to the address it answered.
    expect(second).to.deep.include({ attempted: first.attempted, delivered: first.attempted });
    expect(resolved).to.have.length(first.attempted);
    expect(receiver.processed.size).to.equal(first.attempted);
    expect(receiver.received.every((r) => r.signed)).to.equal(true);
    for (const delivery of await deliveries()) {
      expect(delivery).to.include({ status: "delivered", attempts: 2 });
      expect(delivery.log.map((a) => a.statusCode ?? a.error)).to.deep.equal([error, 204]);
    }
  });
});
