import { LedgerError } from "../ledger/errors";
import * as fs from "node:fs";
import { isKeystoreJson, Wallet } from "ethers";
import type { Command } from "commander";
import type { Act } from "./codes";
import { EXIT_OK, type CliIo } from "./io";
import { jsonOption, printRecord } from "./output";

/** Where a key comes from: an encrypted keystore file, or a raw private key in an environment variable. */
export type KeySource = {
  /** Option naming the keystore file, for messages. */
  option: string;
  keystore?: string;
  /** Variables holding the keystore's password and, without a keystore, the private key. */
  passwordVariable: string;
  privateKeyVariable: string;
};

export const SIGNER_KEY: Omit<KeySource, "keystore"> = {
  option: "--keystore",
  passwordVariable: "TRACE_KEYSTORE_PASSWORD",
  privateKeyVariable: "TRACE_PRIVATE_KEY",
};
export const COUNTERPARTY_KEY: Omit<KeySource, "keystore"> = {
  option: "--counterparty-keystore",
  passwordVariable: "TRACE_COUNTERPARTY_KEYSTORE_PASSWORD",
  privateKeyVariable: "TRACE_COUNTERPARTY_PRIVATE_KEY",
};

const PRIVATE_KEY = /^(0x)?[0-9a-fA-F]{64}$/;

/** Whether a key is configured at all (scan signs in only when one is). */
export function hasKey(io: CliIo, source: KeySource): boolean {
  return source.keystore !== undefined || io.env[source.privateKeyVariable] !== undefined;
}

/** The organization's signing key, decrypted from its keystore or read from the environment. */
export async function loadKey(io: CliIo, source: KeySource): Promise<Wallet> {
  if (source.keystore !== undefined) return decryptKeystore(io, source.keystore, source);
  const raw = io.env[source.privateKeyVariable];
  if (raw === undefined) {
    throw new LedgerError(
      "bad_input",
      "KEY_REQUIRED",
      `no signing key: pass ${source.option} FILE (an encrypted JSON keystore) or set ${source.privateKeyVariable}`,
    );
  }
  return walletOf(raw.trim(), source.privateKeyVariable);
}

function walletOf(raw: string, variable: string): Wallet {
  if (!PRIVATE_KEY.test(raw))
    throw new LedgerError("bad_input", "KEY_MALFORMED", `${variable} must be a private key: 64 hex digits, optionally prefixed by 0x`);
  try {
    return new Wallet(raw.startsWith("0x") ? raw : `0x${raw}`);
  } catch {
    throw new LedgerError("bad_input", "KEY_MALFORMED", `${variable} is not a valid secp256k1 private key (zero or beyond the curve order)`);
  }
}

async function passwordFor(io: CliIo, file: string, variable: string, purpose: string): Promise<string> {
  const fromEnv = io.env[variable];
  if (fromEnv !== undefined) return fromEnv;
  if (io.readSecret === undefined)
    throw new LedgerError("bad_input", "PASSWORD_REQUIRED", `${purpose} ${file} needs a password: set ${variable} (no terminal to ask on)`);
  return io.readSecret(`password for ${file}: `);
}

async function decryptKeystore(io: CliIo, file: string, source: KeySource): Promise<Wallet> {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (error) {
    throw new LedgerError("bad_input", "KEYSTORE_UNREADABLE", `cannot read keystore ${file}: ${(error as Error).message}`, source.option);
  }
  if (!isKeystoreJson(text)) {
    throw new LedgerError(
      "bad_input",
      "KEYSTORE_MALFORMED",
      `${file} is not an encrypted JSON keystore (version 3, as \`trace keys create\` writes)`,
      source.option,
    );
  }
  const password = await passwordFor(io, file, source.passwordVariable, "keystore");
  try {
    return (await Wallet.fromEncryptedJson(text, password)) as Wallet;
  } catch (error) {
    if (/incorrect password/.test((error as Error).message)) {
      throw new LedgerError("bad_input", "KEYSTORE_WRONG_PASSWORD", `wrong password for keystore ${file}`, source.option);
    }
    throw new LedgerError(
      "bad_input",
      "KEYSTORE_MALFORMED",
      `cannot decrypt keystore ${file}: ${(error as Error).message.split(" (")[0]}`,
      source.option,
    );
  }
}

type CreateOptions = { out: string; import: boolean; json: boolean };

/** Writes a new (or, with --import, the environment's) key to an encrypted keystore; never overwrites one. */
async function createKeystore(io: CliIo, options: CreateOptions): Promise<number> {
  if (fs.existsSync(options.out))
    throw new LedgerError("bad_input", "KEYSTORE_EXISTS", `${options.out} already exists; a keystore is never overwritten`, "--out");
  const wallet = options.import ? await loadKey(io, { ...SIGNER_KEY }) : Wallet.createRandom();
  const password = await passwordFor(io, options.out, SIGNER_KEY.passwordVariable, "the new keystore");
  if (password.length < 8) throw new LedgerError("bad_input", "PASSWORD_TOO_SHORT", "a keystore password has at least 8 characters");
  const json = await wallet.encrypt(password);
  try {
    fs.writeFileSync(options.out, json, { flag: "wx", mode: 0o600 });
  } catch (error) {
    throw new LedgerError("bad_input", "KEYSTORE_UNWRITABLE", `cannot write ${options.out}: ${(error as Error).message}`, "--out");
  }
  printRecord(io, options.json, { address: wallet.address, keystore: options.out });
  return EXIT_OK;
}

async function showAddress(io: CliIo, options: { keystore?: string; json: boolean }): Promise<number> {
  const wallet = await loadKey(io, { ...SIGNER_KEY, keystore: options.keystore });
  printRecord(io, options.json, { address: wallet.address });
  return EXIT_OK;
}

export function addKeyCommands(program: Command, io: CliIo, act: Act): void {
  const keys = program.command("keys").description("organizations' signing keys in encrypted JSON keystores");
  keys
    .command("create")
    .description(`make a keystore (password from ${SIGNER_KEY.passwordVariable} or asked on the terminal)`)
    .requiredOption("--out <file>", "the keystore file to write")
    .option("--import", `encrypt the key in ${SIGNER_KEY.privateKeyVariable} instead of a new random one`, false)
    .addOption(jsonOption())
    .action(act((options: CreateOptions) => createKeystore(io, options)));
  keys
    .command("address")
    .description("the address of the configured key")
    .option("--keystore <file>", `encrypted JSON keystore (default: ${SIGNER_KEY.privateKeyVariable})`)
    .addOption(jsonOption())
    .action(act((options) => showAddress(io, options)));
}
