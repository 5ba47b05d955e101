import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import type { Store } from "../store";

/**
 * Webhook signing secrets are kept encrypted in the store, so a copy of the store (a backup, a stolen disk) does
 * not let anyone sign notifications as this ledger. AES-256-GCM (authenticated: a tampered or swapped secret fails
 * to open rather than opening wrong) under a key derived with HKDF-SHA256 from the API secret, with the
 * subscription's id as associated data so a sealed secret cannot be moved to another subscription.
 */
export type SecretBox = {
  seal(secret: string, subscriptionId: string): string;
  open(sealed: string, subscriptionId: string): string;
};

/** A sealed secret that does not open: another API secret sealed it, or it was altered. */
export class SecretBoxError extends Error {
  override name = "SecretBoxError";
}

const PREFIX = "aes256gcm.v1.";
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export function secretBox(apiSecret: Buffer): SecretBox {
  const key = Buffer.from(hkdfSync("sha256", apiSecret, Buffer.alloc(0), "trace-ledger webhook secrets v1", 32));
  return {
    seal(secret, subscriptionId) {
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv("aes-256-gcm", key, nonce).setAAD(Buffer.from(subscriptionId, "utf8"));
      const sealed = Buffer.concat([cipher.update(secret, "utf8"), cipher.final()]);
      return `${PREFIX}${Buffer.concat([nonce, cipher.getAuthTag(), sealed]).toString("base64url")}`;
    },
    open(sealed, subscriptionId) {
      if (!isSealed(sealed)) throw new SecretBoxError(`the secret of subscription ${subscriptionId} is not sealed`);
      const bytes = Buffer.from(sealed.slice(PREFIX.length), "base64url");
      try {
        const decipher = createDecipheriv("aes-256-gcm", key, bytes.subarray(0, NONCE_BYTES))
          .setAAD(Buffer.from(subscriptionId, "utf8"))
          .setAuthTag(bytes.subarray(NONCE_BYTES, NONCE_BYTES + TAG_BYTES));
        return Buffer.concat([decipher.update(bytes.subarray(NONCE_BYTES + TAG_BYTES)), decipher.final()]).toString("utf8");
      } catch {
        throw new SecretBoxError(`the secret of subscription ${subscriptionId} does not open with this API secret (was TRACE_API_SECRET changed?)`);
      }
    },
  };
}

function isSealed(value: string): boolean {
  return value.startsWith(PREFIX);
}

/** Seals the secrets stored in the clear before secrets were sealed; returns how many. */
export async function sealClearSecrets(store: Store, box: SecretBox): Promise<number> {
  const rows = await store.db.selectFrom("webhook_subscriptions").select(["id", "secret"]).where("secret", "not like", `${PREFIX}%`).execute();
  for (const row of rows) {
    await store.db
      .updateTable("webhook_subscriptions")
      .set({ secret: box.seal(row.secret, row.id) })
      .where("id", "=", row.id)
      .where("secret", "=", row.secret)
      .execute();
  }
  return rows.length;
}
