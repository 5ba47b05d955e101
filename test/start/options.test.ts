import path from "node:path";
import { expect } from "chai";
import { describe, it } from "vitest";
import { parseStartOptions, StartHelp, StartOptionsError } from "../../src/chain/options";

function failure(argv: string[], env: NodeJS.ProcessEnv = {}) {
  try {
    parseStartOptions(argv, env);
  } catch (error) {
    return error as Error;
  }
  throw new Error(`${argv.join(" ")} was accepted`);
}

describe("npm start options", () => {
  it("defaults to the embedded chain with the demo in .data on ports 8080 and 8545", () => {
    expect(parseStartOptions([], {})).to.deep.equal({
      dataDir: path.resolve(".data"),
      database: path.resolve(".data", "ledger.sqlite"),
      apiPort: 8080,
      demo: true,
      publicRateLimit: 600,
      verification: "full",
      chain: { kind: "embedded", rpcPort: 8545 },
      acceptLostStore: false,
    });
  });

  it("takes the TRACE_* variables as defaults and lets arguments override them", () => {
    const env = { TRACE_DATA_DIR: "/srv/trace", TRACE_API_PORT: "9000", TRACE_RPC_PORT: "9545", TRACE_DATABASE: "postgres://ledger@db/trace" };
    expect(parseStartOptions([], env)).to.deep.include({
      dataDir: "/srv/trace",
      apiPort: 9000,
      database: "postgres://ledger@db/trace",
      chain: { kind: "embedded", rpcPort: 9545 },
    });
    expect(parseStartOptions(["--port", "0", "--data-dir", "/tmp/x", "--no-demo"], env)).to.deep.include({
      dataDir: "/tmp/x",
      apiPort: 0,
      demo: false,
    });
    expect(parseStartOptions([], { TRACE_PUBLIC_RATE_LIMIT: "6000" }).publicRateLimit).to.equal(6000);
    expect(parseStartOptions(["--public-rate-limit", "20000"], { TRACE_PUBLIC_RATE_LIMIT: "6000" }).publicRateLimit).to.equal(20000);
    expect(parseStartOptions([], { TRACE_MAX_RANGE: "500" }).maxRange).to.equal(500);
    expect(parseStartOptions(["--max-range", "4"], { TRACE_MAX_RANGE: "500" }).maxRange).to.equal(4);
    expect(parseStartOptions([], {})).not.to.have.property("maxRange");
    expect(parseStartOptions(["--verify", "deferred"], {}).verification).to.equal("deferred");
    expect(parseStartOptions([], { TRACE_VERIFY: "deferred" }).verification).to.equal("deferred");
    expect(parseStartOptions([], { TRACE_PUBLIC_URL: "https://trace.example.cn/" }).publicUrl).to.equal("https://trace.example.cn");
    expect(parseStartOptions(["--public-url", "https://trace.example.cn/ledger"], { TRACE_PUBLIC_URL: "https://x.example" }).publicUrl).to.equal(
      "https://trace.example.cn/ledger",
    );
    expect(parseStartOptions([], {})).not.to.have.property("publicUrl");
  });

  it("takes a SQLite file or a postgres:// or postgresql:// URL as the database", () => {
    expect(parseStartOptions(["--database", "postgresql://ledger@db/trace"], {}).database).to.equal("postgresql://ledger@db/trace");
    expect(parseStartOptions(["--database", "/srv/trace/ledger.sqlite"], {}).database).to.equal("/srv/trace/ledger.sqlite");
  });

  it("takes a store backup or restore instead of running, and the acceptance of a lost store", () => {
    expect(parseStartOptions(["--backup", "/srv/backups/ledger.sqlite"], {}).storeCopy).to.deep.equal({
      kind: "backup",
      file: "/srv/backups/ledger.sqlite",
    });
    expect(parseStartOptions(["--restore", "b.sqlite"], {}).storeCopy).to.deep.equal({ kind: "restore", file: path.resolve("b.sqlite") });
    expect(parseStartOptions(["--accept-lost-store"], {}).acceptLostStore).to.equal(true);
    expect(failure(["--backup", "a", "--restore", "b"]).message).to.equal("--backup and --restore: give one of them");
  });

  it("attaches to an existing chain without the demo unless asked", () => {
    const attached = parseStartOptions(["--rpc", "http://10.0.0.5:8545", "--deployment", "besu.json"], {});
    expect(attached.chain).to.deep.equal({ kind: "attached", rpcUrl: "http://10.0.0.5:8545", deploymentFile: path.resolve("besu.json") });
    expect(attached.demo).to.equal(false);
    expect(parseStartOptions(["--rpc", "https://node.example", "--deployment", "d.json", "--demo"], {}).demo).to.equal(true);
  });

  it("refuses bad arguments and settings, naming the one at fault", () => {
    const cases: [string[], NodeJS.ProcessEnv, string][] = [
      [["--port", "http"], {}, '--port must be a TCP port from 0 (any free port) to 65535, got "http"'],
      [[], { TRACE_API_PORT: "70000" }, 'TRACE_API_PORT must be a TCP port from 0 (any free port) to 65535, got "70000"'],
      [["--rpc-port", "-1"], {}, "--rpc-port must be a TCP port"],
      [["--rpc", "10.0.0.5:8545", "--deployment", "d.json"], {}, "--rpc must be"],
      [["--rpc", "ws://10.0.0.5:8546", "--deployment", "d.json"], {}, "--rpc must be an http:// or https:// JSON-RPC URL"],
      [["--deployment", "d.json"], {}, "give its --rpc URL too"],
      [["--rpc", "http://10.0.0.5:8545"], {}, "give its --deployment file too"],
      [["--rpc", "http://10.0.0.5:8545", "--deployment", "d.json", "--rpc-port", "8545"], {}, "with --rpc no chain is started"],
      [["--data-dir", " "], {}, "--data-dir must name a directory"],
      [
        ["--database", "mysql://x"],
        {},
        '--database must be a SQLite file or a postgres:// URL; mysql:// databases are not supported, got "mysql://x"',
      ],
      [
        [],
        { TRACE_DATABASE: "sqlite:///srv/ledger.db" },
        "TRACE_DATABASE must be a SQLite file or a postgres:// URL; sqlite:// databases are not supported",
      ],
      [["--public-rate-limit", "0"], {}, '--public-rate-limit must be a number of requests per minute (1 or more), got "0"'],
      [[], { TRACE_PUBLIC_RATE_LIMIT: "lots" }, "TRACE_PUBLIC_RATE_LIMIT must be a number of requests per minute"],
      [["--max-range", "0"], {}, '--max-range must be a whole number of blocks, at least 1, got "0"'],
      [[], { TRACE_MAX_RANGE: "1.5" }, "TRACE_MAX_RANGE must be a whole number of blocks"],
      [["--verify", "later"], {}, '--verify must be full or deferred, got "later"'],
      [[], { TRACE_VERIFY: "none" }, 'TRACE_VERIFY must be full or deferred, got "none"'],
      [
        ["--public-url", "trace.example.cn"],
        {},
        '--public-url must be the API\'s public http(s) URL such as https://trace.example.cn, got "trace.example.cn"',
      ],
      [[], { TRACE_PUBLIC_URL: "ftp://trace.example.cn" }, "TRACE_PUBLIC_URL must be the API's public http(s) URL"],
      [["--public-url", "https://trace.example.cn/?x=1"], {}, "--public-url must be the API's public http(s) URL"],
      [["--verbose"], {}, "unknown option '--verbose'"],
      [["now"], {}, "too many arguments"],
    ];
    for (const [argv, env, message] of cases) {
      const error = failure(argv, env);
      expect(error, argv.join(" ")).to.be.instanceOf(StartOptionsError);
      expect(error.message).to.contain(message);
    }
  });

  it("answers --help with the usage", () => {
    const help = failure(["--help"]);
    expect(help).to.be.instanceOf(StartHelp);
    for (const option of ["--data-dir", "--port", "--rpc-port", "--database", "--rpc", "--deployment", "--no-demo"])
      expect(help.message).to.contain(option);
  });
});
