import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { getAddress, isAddress, verifyMessage } from "ethers";
import type { Kysely } from "kysely";
import { z } from "zod";
import type { Database } from "../store";
import { readRows } from "../store";
import { preparedQuery } from "../store/queries";
import { badInput, conflict, notAllowed, unauthenticated } from "../ledger/errors";
import type { ApiServices, Caller } from "./context";
import { defineRoute } from "./routes";

const CHALLENGE_LIFETIME = 300;
const address = z
  .string()
  .refine((value) => isAddress(value), "must be an Ethereum address (0x and 40 hex digits)")
  .transform((value) => getAddress(value))
  .meta({ description: "a signing key's address", example: "0x5B38Da6a701c568545dCfcB03FcB875f56beddC4" });

/**
 * The text an organization's key signs to sign in (EIP-191 personal message). A challenge carries its own proof —
 * an HMAC over the address and expiry — so any API server sharing the secret can check it; only its redemption is
 * recorded, in the shared database.
 */
export function challengeText(key: string, challenge: string) {
  return `Sign in to the drug traceability ledger\nKey: ${key}\nChallenge: ${challenge}`;
}

function mac(secret: Buffer, text: string) {
  return createHmac("sha256", secret).update(text).digest("base64url");
}

function issueChallenge(services: ApiServices, key: string) {
  const expiresAt = services.now() + CHALLENGE_LIFETIME;
  const nonce = randomBytes(12).toString("base64url");
  const body = `${expiresAt}.${nonce}`;
  return { challenge: `${body}.${mac(services.config.secret, `challenge|${key}|${body}`)}`, expiresAt };
}

/** The challenge's nonce and expiry, once its MAC shows this ledger issued it for this key and it has not expired. */
function checkChallenge(services: ApiServices, key: string, challenge: string) {
  const [expiresAt, nonce, tag] = challenge.split(".");
  if (!expiresAt || !nonce || !tag || !sameMac(tag, mac(services.config.secret, `challenge|${key}|${expiresAt}.${nonce}`))) {
    throw badInput("INVALID_CHALLENGE", "the challenge was not issued by this ledger for this key", "challenge");
  }
  if (Number(expiresAt) < services.now()) throw badInput("EXPIRED_CHALLENGE", "the challenge expired; ask for a new one", "challenge");
  return { nonce, expiresAt: Number(expiresAt) };
}

/**
 * Marks the challenge used, or refuses it if it already was: a captured challenge and signature are good for one
 * token, not for every token until it expires. The mark lives in the shared database, whose primary key settles
 * two servers redeeming it at once, and is dropped once the challenge has expired and could not be redeemed anyway.
 */
async function redeemChallenge(services: ApiServices, challenge: { nonce: string; expiresAt: number }) {
  const { db } = services.store;
  await db.deleteFrom("redeemed_challenges").where("expires_at", "<", services.now()).execute();
  const inserted = await db
    .insertInto("redeemed_challenges")
    .values({ nonce: challenge.nonce, expires_at: challenge.expiresAt })
    .onConflict((conflict) => conflict.column("nonce").doNothing())
    .executeTakeFirst();
  if (inserted.numInsertedOrUpdatedRows === 0n) {
    throw conflict("CHALLENGE_USED", "the challenge was already exchanged for a token; ask for a new one");
  }
}

function sameMac(a: string, b: string) {
  const [x, y] = [Buffer.from(a), Buffer.from(b)];
  return x.length === y.length && timingSafeEqual(x, y);
}

type TokenClaims = { key: string; organizationId: number; expiresAt: number };

function issueToken(services: ApiServices, claims: TokenClaims) {
  const body = Buffer.from(JSON.stringify(claims)).toString("base64url");
  return `${body}.${mac(services.config.secret, `token|${body}`)}`;
}

/** Tokens whose MAC this process checked, per secret; beyond it, the oldest is dropped (and checked again if sent). */
const CHECKED_TOKENS = 10_000;
const checkedTokens = new WeakMap<Buffer, Map<string, TokenClaims>>();

/**
 * The claims of a token this ledger issued. A token's MAC under a secret never changes, so each token is checked
 * once per process (a signed-in scan asked for it twice: the rate limiter, then the route); its expiry is checked
 * on every request, and whether its key may still act is read from the store by `activeCaller`.
 */
function readToken(services: ApiServices, token: string): TokenClaims {
  const { secret } = services.config;
  let checked = checkedTokens.get(secret);
  if (!checked) checkedTokens.set(secret, (checked = new Map()));
  let claims = checked.get(token);
  if (!claims) {
    const [body, tag] = token.split(".");
    if (!body || !tag || !sameMac(tag, mac(secret, `token|${body}`))) {
      throw unauthenticated("INVALID_TOKEN", "the token was not issued by this ledger");
    }
    claims = JSON.parse(Buffer.from(body, "base64url").toString()) as TokenClaims;
    if (checked.size >= CHECKED_TOKENS) checked.delete(checked.keys().next().value!);
    checked.set(token, claims);
  }
  if (claims.expiresAt < services.now()) throw unauthenticated("EXPIRED_TOKEN", "the token expired; sign in again");
  return claims;
}

/**
 * The organization a key speaks for right now, from the indexed chain: suspension or key revocation takes
 * effect on the next request, whatever tokens are out.
 */
async function activeCaller(services: ApiServices, key: string): Promise<Caller> {
  const { db } = services.store;
  let standing = keyStanding.get(db);
  if (!standing) keyStanding.set(db, (standing = compileKeyStanding(db)));
  // Read on every request, by primary key, from the shared database: the row is its own version, so a revocation
  // or suspension indexed by any server of a cluster is seen by the next request on every server.
  const query = standing({ address: key.toLowerCase() });
  const row = (await readRows(db, query))[0];
  if (!row) throw unauthenticated("UNKNOWN_KEY", `key ${key} is not registered to any organization`);
  if (row.revoked) throw unauthenticated("REVOKED_KEY", `key ${key} was revoked by its organization`);
  if (row.status !== "ACTIVE") throw notAllowed("ORGANIZATION_SUSPENDED", `organization ${row.id} is suspended`);
  return { organizationId: row.id, role: row.role, region: row.region, key: checksummed(key) };
}

/** The statement `activeCaller` runs, compiled once per database (building it cost more than running it). */
function compileKeyStanding(db: Kysely<Database>) {
  return preparedQuery(["address"], (slot) =>
    db
      .selectFrom("signing_keys")
      .innerJoin("organizations", "organizations.id", "signing_keys.organization_id")
      .select(["organizations.id", "organizations.role", "organizations.region", "organizations.status", "signing_keys.revoked"])
      .where("signing_keys.address", "=", slot.address),
  );
}
const keyStanding = new WeakMap<Kysely<Database>, ReturnType<typeof compileKeyStanding>>();

/** Checksummed addresses (EIP-55, a keccak in JavaScript each), kept: an address's checksum never changes. */
const CHECKSUMMED_KEYS = 10_000;
const checksums = new Map<string, string>();
function checksummed(key: string): string {
  let address = checksums.get(key);
  if (address === undefined) {
    address = getAddress(key);
    if (checksums.size >= CHECKSUMMED_KEYS) checksums.delete(checksums.keys().next().value!);
    checksums.set(key, address);
  }
  return address;
}

const BEARER = /^Bearer\s+(\S+)$/i;

/**
 * Whether `Authorization` carries an unexpired token this ledger issued. No database read, so a rate limiter can
 * ask it for every request; whether the organization may still act is checked by the route.
 */
export function holdsIssuedToken(services: ApiServices, header: string | undefined): boolean {
  const match = header === undefined ? null : BEARER.exec(header);
  if (!match) return false;
  try {
    readToken(services, match[1]!);
    return true;
  } catch {
    return false;
  }
}

/** The token in `Authorization: Bearer …`; refuses when one is required and missing. */
export function bearerToken(req: Pick<IncomingMessage, "headers">, required: boolean): string | undefined {
  const header = req.headers.authorization;
  if (!header) {
    if (required) throw unauthenticated("TOKEN_REQUIRED", "sign in: POST /v1/auth/challenge, then /v1/auth/token");
    return undefined;
  }
  const match = BEARER.exec(header);
  if (!match) throw unauthenticated("INVALID_TOKEN", "the Authorization header must be `Bearer <token>`");
  return match[1]!;
}

/**
 * The organization a token speaks for right now. Asked again by whatever outlives one request (an event stream), so
 * an expired token, a revoked key or a suspended organization is refused there too.
 */
export async function tokenCaller(services: ApiServices, token: string): Promise<Caller> {
  const claims = readToken(services, token);
  const caller = await activeCaller(services, claims.key);
  if (caller.organizationId !== claims.organizationId) throw unauthenticated("INVALID_TOKEN", "the key changed organization");
  return caller;
}

/** Resolves the caller from `Authorization: Bearer …`; refuses when a token is required and missing. */
export function createAuthenticator(services: ApiServices) {
  return async (req: Pick<IncomingMessage, "headers">, required: boolean): Promise<Caller | undefined> => {
    const token = bearerToken(req, required);
    return token === undefined ? undefined : tokenCaller(services, token);
  };
}

export const authRoutes = [
  defineRoute({
    method: "post",
    path: "/v1/auth/challenge",
    summary: "Ask for a challenge to sign with an organization's key",
    tags: ["auth"],
    access: "public",
    body: z.object({ key: address }),
    response: z.object({ challenge: z.string(), text: z.string(), expiresAt: z.number().int() }),
    async handle({ body, services }) {
      const { challenge, expiresAt } = issueChallenge(services, body.key);
      return { challenge, text: challengeText(body.key, challenge), expiresAt };
    },
  }),
  defineRoute({
    method: "post",
    path: "/v1/auth/token",
    summary: "Exchange a signed challenge for a short-lived token",
    tags: ["auth"],
    access: "public",
    body: z.object({
      key: address,
      challenge: z.string().min(1).max(200),
      signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/, "must be a 65-byte signature in 0x hex"),
    }),
    response: z.object({ token: z.string(), organizationId: z.number().int(), role: z.string(), expiresAt: z.number().int() }),
    errors: {
      400: "the challenge is malformed, not this ledger's, or expired",
      401: "the key is unknown or revoked",
      403: "the organization is suspended",
      409: "the challenge was already exchanged for a token (CHALLENGE_USED)",
    },
    async handle({ body, services }) {
      const challenge = checkChallenge(services, body.key, body.challenge);
      const signer = recoverSigner(challengeText(body.key, body.challenge), body.signature);
      if (signer !== body.key) throw unauthenticated("SIGNATURE_MISMATCH", `the signature is not by key ${body.key}`);
      const caller = await activeCaller(services, body.key);
      await redeemChallenge(services, challenge);
      const expiresAt = services.now() + services.config.tokenLifetime;
      const token = issueToken(services, { key: caller.key, organizationId: caller.organizationId, expiresAt });
      return { token, organizationId: caller.organizationId, role: caller.role, expiresAt };
    },
  }),
];

function recoverSigner(text: string, signature: string) {
  try {
    return verifyMessage(text, signature);
  } catch {
    throw badInput("INVALID_SIGNATURE", "the signature is malformed", "signature");
  }
}
