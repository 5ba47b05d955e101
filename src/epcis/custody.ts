import { Wallet } from "ethers";
import { openCustodyKey, sealCustodyKey } from "../quality/sealing";
import type { Store } from "../store";

/**
 * Custody: an organization may choose (explicitly, `PUT /epcis/custody`) to let the server keep a signing key for
 * it, so EPCIS capture signs and sends its attestations itself. The key is made here and never leaves the server;
 * it is sealed at rest under the custody master key (TRACE_CUSTODY_KEY, or `custody-key` in the data directory) and
 * acts only once the organization has registered its address as one of its signing keys on the ledger (a
 * SigningKeyAddition signed with a key it already holds), which it may revoke there at any time. Without custody, capture
 * answers the attestations unsigned for the organization's own signer.
 */
export type Custody = {
  /** The organization's custody key, or undefined when it has not chosen custody. */
  signerOf(organizationId: number): Promise<Wallet | undefined>;
  /** Makes (or keeps) the organization's custody key; answers its address. */
  enrol(organizationId: number, now: number): Promise<{ address: string; createdAt: number }>;
  /** The custody key's address and when it was made, if any. */
  describe(organizationId: number): Promise<{ address: string; createdAt: number } | undefined>;
  /** Erases the organization's custody key; whether there was one. */
  withdraw(organizationId: number): Promise<boolean>;
};

export function createCustody({ store, masterKey }: { store: Store; masterKey: Buffer }): Custody {
  const row = (organizationId: number) =>
    store.db.selectFrom("custody_keys").selectAll().where("organization_id", "=", organizationId).executeTakeFirst();
  const custody: Custody = {
    async signerOf(organizationId) {
      const found = await row(organizationId);
      return found && new Wallet(`0x${openCustodyKey(masterKey, organizationId, found.sealed_key).toString("hex")}`);
    },
    async describe(organizationId) {
      const found = await row(organizationId);
      return found && { address: found.address, createdAt: Number(found.created_at) };
    },
    async enrol(organizationId, now) {
      const existing = await custody.describe(organizationId);
      if (existing) return existing;
      const wallet = Wallet.createRandom();
      const sealed = sealCustodyKey(masterKey, organizationId, Buffer.from(wallet.privateKey.slice(2), "hex"));
      await store.db
        .insertInto("custody_keys")
        .values({ organization_id: organizationId, address: wallet.address.toLowerCase(), sealed_key: sealed, created_at: now })
        .execute();
      return { address: wallet.address.toLowerCase(), createdAt: now };
    },
    async withdraw(organizationId) {
      const result = await store.db.deleteFrom("custody_keys").where("organization_id", "=", organizationId).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
  };
  return custody;
}
