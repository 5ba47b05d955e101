import { randomBytes } from "node:crypto";
import { keccak256 } from "ethers";
import type { Kysely } from "kysely";
import { ATTESTATION_BY_EVENT, provinceOf } from "../ledger";
import type { RoleName } from "../ledger";
import { badInput, conflict, LedgerError, notAllowed, notFound, refused } from "../ledger/errors";
import { payloadOf } from "../store";
import type { Database, LedgerEventTable, QualityDocumentAccessTable, QualityDocumentTable, Store } from "../store";
import type { DocumentContents } from "./contents";
import { openContent, SealBrokenError, sealContent, unwrapDataKey, wrapDataKey } from "./sealing";

/** The organization asking, signed in with its on-chain key. */
export type DocumentCaller = { organizationId: number; role: RoleName };

/** Which ledger event a document is uploaded for: by its position, or the batch whose events record its hash. */
export type RecordRef = { transactionHash: string; logIndex: number } | { batchId: string };

export type DocumentUpload = { record: RecordRef; content: Buffer; fileName: string; mediaType: string };

export type DocumentMetadata = {
  hash: string;
  record: { transactionHash: string; blockNumber: number; logIndex: number; event: string; field: string };
  batchId: string | null;
  agreementId: string | null;
  ownerId: number;
  uploadedBy: number;
  uploadedAt: number;
  fileName: string;
  mediaType: string;
  size: number;
  readers: number[];
};

export type DocumentAccess = {
  organizationId: number;
  action: QualityDocumentAccessTable["action"];
  outcome: "done" | "refused";
  detail: string | null;
  at: number;
};

/**
 * The quality document store: documents addressed by the keccak-256 hash that a ledger attestation records
 * (deviation reports and closures, CAPA plans, agreements, release decisions, recall reasons …), readable only by
 * the organizations the attestation involves and the regulators of their provinces, encrypted at rest
 * (src/quality/sealing.ts) and audited on every download, grant and revocation.
 */
export type DocumentVault = {
  upload(caller: DocumentCaller, upload: DocumentUpload): Promise<{ created: boolean; document: DocumentMetadata }>;
  metadata(caller: DocumentCaller, hash: string): Promise<DocumentMetadata>;
  download(caller: DocumentCaller, hash: string): Promise<{ document: DocumentMetadata; content: Buffer }>;
  audit(caller: DocumentCaller, hash: string): Promise<DocumentAccess[]>;
  grant(caller: DocumentCaller, hash: string, organizationId: number): Promise<DocumentMetadata>;
  revoke(caller: DocumentCaller, hash: string, organizationId: number): Promise<DocumentMetadata>;
  /** The documents of a batch the caller may read. */
  ofBatch(caller: DocumentCaller, batchId: string): Promise<DocumentMetadata[]>;
};

export type DocumentVaultOptions = {
  store: Store;
  /** The deployment's document master key (32 bytes): every reader's wrapping key derives from it. */
  masterKey: Buffer;
  contents: DocumentContents;
  now(): number;
};

let accessSequence = 0;

/** Access log ids sort in the order the accesses were logged (milliseconds, then this process's sequence). */
function accessId(): string {
  accessSequence = (accessSequence + 1) % 1_000_000;
  return `${String(Date.now()).padStart(15, "0")}.${String(accessSequence).padStart(6, "0")}.${randomBytes(4).toString("hex")}`;
}

export function createDocumentVault({ store, masterKey, contents, now }: DocumentVaultOptions): DocumentVault {
  const { db } = store;

  async function record(ref: RecordRef, hash: string): Promise<{ event: LedgerEventTable; field: string }> {
    if ("batchId" in ref) {
      const events = await db
        .selectFrom("ledger_events")
        .selectAll()
        .where("batch_id", "=", ref.batchId)
        .orderBy("block_number")
        .orderBy("log_index")
        .execute();
      for (const event of events) {
        const field = hashFieldsOf(event).find(([, value]) => value === hash)?.[0];
        if (field) return { event, field };
      }
      throw refused(
        "DOCUMENT_NOT_ON_LEDGER",
        `no attestation of batch ${ref.batchId} records the hash ${hash}: this is not a document the ledger knows`,
      );
    }
    const event = await db
      .selectFrom("ledger_events")
      .selectAll()
      .where("tx_hash", "=", ref.transactionHash.toLowerCase())
      .where("log_index", "=", ref.logIndex)
      .executeTakeFirst();
    if (!event) throw notFound("UNKNOWN_LEDGER_RECORD", `no ledger event at transaction ${ref.transactionHash}, log ${ref.logIndex}`);
    const fields = hashFieldsOf(event);
    const field = fields.find(([, value]) => value === hash)?.[0];
    if (!field) {
      const recorded = fields.map(([name, value]) => `${name} ${value}`).join(", ") || "no document hash";
      throw refused("DOCUMENT_HASH_MISMATCH", `the document hashes to ${hash}, but the ${event.name} it is uploaded for records ${recorded}`);
    }
    return { event, field };
  }

  async function findDocument(hash: string): Promise<QualityDocumentTable> {
    const row = await db.selectFrom("quality_documents").selectAll().where("hash", "=", hash).executeTakeFirst();
    if (!row) throw notFound("UNKNOWN_DOCUMENT", `no document ${hash} has been uploaded`);
    return row;
  }

  async function readerIds(hash: string): Promise<number[]> {
    const rows = await db
      .selectFrom("quality_document_readers")
      .select("organization_id")
      .where("document_hash", "=", hash)
      .orderBy("organization_id")
      .execute();
    return rows.map((r) => r.organization_id);
  }

  async function metadataOf(row: QualityDocumentTable): Promise<DocumentMetadata> {
    return toMetadata(row, await readerIds(row.hash));
  }

  async function logAccess(
    hash: string,
    organizationId: number,
    action: DocumentAccess["action"],
    outcome: DocumentAccess["outcome"],
    detail: string | null,
  ) {
    await db
      .insertInto("quality_document_accesses")
      .values({ id: accessId(), document_hash: hash, organization_id: organizationId, action, outcome, detail, at: now() })
      .execute();
  }

  /** The document's metadata, for one of its readers; anyone else is refused. */
  async function readable(caller: DocumentCaller, hash: string) {
    const row = await findDocument(hash);
    const readers = await readerIds(hash);
    if (!readers.includes(caller.organizationId)) throw notReader(caller, hash);
    return toMetadata(row, readers);
  }

  async function ownedDocument(caller: DocumentCaller, hash: string) {
    const row = await findDocument(hash);
    if (row.owner_id !== caller.organizationId) {
      throw notAllowed(
        "NOT_DOCUMENT_OWNER",
        `only organization ${row.owner_id}, whose attestation records document ${hash}, grants or revokes its readers`,
      );
    }
    return row;
  }

  async function dataKeyFor(hash: string, organizationId: number): Promise<Buffer | undefined> {
    const wrapping = await db
      .selectFrom("quality_document_readers")
      .select("wrapped_key")
      .where("document_hash", "=", hash)
      .where("organization_id", "=", organizationId)
      .executeTakeFirst();
    return wrapping && unwrapDataKey(masterKey, hash, organizationId, wrapping.wrapped_key);
  }

  return {
    async upload(caller, upload) {
      if (upload.content.length === 0) throw badInput("EMPTY_DOCUMENT", "the document is empty", "content");
      const hash = keccak256(upload.content).toLowerCase();
      const existing = await db.selectFrom("quality_documents").selectAll().where("hash", "=", hash).executeTakeFirst();
      if (existing) {
        // Upload once: the same bytes again change nothing, whoever sends them, and learn nothing if not a reader.
        const readers = await readerIds(hash);
        if (!readers.includes(caller.organizationId)) throw notReader(caller, hash);
        return { created: false, document: toMetadata(existing, readers) };
      }
      const { event, field } = await record(upload.record, hash);
      const { parties, readers } = await involvedIn(db, event);
      if (!parties.has(caller.organizationId)) {
        throw notAllowed(
          "NOT_RECORD_PARTY",
          `organization ${caller.organizationId} is not a party to the ${event.name} that records document ${hash}`,
        );
      }
      const { dataKey, sealed } = sealContent(hash, upload.content);
      const location = await contents.put(hash, sealed);
      const at = now();
      const row: QualityDocumentTable = {
        hash,
        record_block: event.block_number,
        record_log: event.log_index,
        record_tx: event.tx_hash,
        event_name: event.name,
        field,
        batch_id: event.batch_id,
        agreement_id: event.agreement_id,
        owner_id: event.organization_id ?? caller.organizationId,
        uploaded_by: caller.organizationId,
        uploaded_at: at,
        file_name: upload.fileName,
        media_type: upload.mediaType,
        size: upload.content.length,
        content_location: location,
      };
      const inserted = await db.transaction().execute(async (trx) => {
        const result = await trx
          .insertInto("quality_documents")
          .values(row)
          .onConflict((oc) => oc.column("hash").doNothing())
          .executeTakeFirst();
        // Another server stored the same document in the meantime: theirs stands.
        if (Number(result.numInsertedOrUpdatedRows ?? 0n) === 0) return false;
        await trx
          .insertInto("quality_document_readers")
          .values(
            [...readers].map((organizationId) => ({
              document_hash: hash,
              organization_id: organizationId,
              wrapped_key: wrapDataKey(masterKey, hash, organizationId, dataKey),
              granted_by: caller.organizationId,
              granted_at: at,
            })),
          )
          .execute();
        await trx
          .insertInto("quality_document_accesses")
          .values({
            id: accessId(),
            document_hash: hash,
            organization_id: caller.organizationId,
            action: "upload",
            outcome: "done",
            detail: null,
            at,
          })
          .execute();
        return true;
      });
      return { created: inserted, document: await metadataOf(await findDocument(hash)) };
    },

    metadata: readable,

    async download(caller, hash) {
      const row = await findDocument(hash);
      const dataKey = await dataKeyFor(hash, caller.organizationId);
      if (!dataKey) {
        await logAccess(hash, caller.organizationId, "download", "refused", "not a reader");
        throw notReader(caller, hash);
      }
      const sealed = await contents.get(row.content_location);
      let content: Buffer;
      try {
        if (!sealed) throw new SealBrokenError("the sealed content is missing");
        content = openContent(hash, dataKey, sealed);
        if (keccak256(content).toLowerCase() !== hash) throw new SealBrokenError("the content does not hash to its address");
      } catch (error) {
        if (!(error instanceof SealBrokenError)) throw error;
        await logAccess(hash, caller.organizationId, "download", "refused", `damaged: ${error.message}`);
        throw new LedgerError(
          "internal",
          "DOCUMENT_DAMAGED",
          `document ${hash} is damaged in storage (${error.message}); restore it from a backup or upload it again`,
        );
      }
      await logAccess(hash, caller.organizationId, "download", "done", null);
      return { document: await metadataOf(row), content };
    },

    async audit(caller, hash) {
      const row = await findDocument(hash);
      const readers = await readerIds(hash);
      const regulatorReader = caller.role === "REGULATOR" && readers.includes(caller.organizationId);
      if (row.owner_id !== caller.organizationId && row.uploaded_by !== caller.organizationId && !regulatorReader) {
        throw notAllowed(
          "NOT_DOCUMENT_AUDITOR",
          `document ${hash}'s access log is for its owner (organization ${row.owner_id}), its uploader and its regulators`,
        );
      }
      const rows = await db.selectFrom("quality_document_accesses").selectAll().where("document_hash", "=", hash).orderBy("id").execute();
      return rows.map((r) => ({ organizationId: r.organization_id, action: r.action, outcome: r.outcome, detail: r.detail, at: r.at }));
    },

    async grant(caller, hash, organizationId) {
      const row = await ownedDocument(caller, hash);
      const organization = await db.selectFrom("organizations").select("id").where("id", "=", organizationId).executeTakeFirst();
      if (!organization) throw notFound("UNKNOWN_ORGANIZATION", `no organization ${organizationId} is on the ledger`);
      const dataKey = await dataKeyFor(hash, caller.organizationId);
      if (!dataKey) throw notReader(caller, hash);
      const at = now();
      await db
        .insertInto("quality_document_readers")
        .values({
          document_hash: hash,
          organization_id: organizationId,
          wrapped_key: wrapDataKey(masterKey, hash, organizationId, dataKey),
          granted_by: caller.organizationId,
          granted_at: at,
        })
        .onConflict((oc) => oc.columns(["document_hash", "organization_id"]).doNothing())
        .execute();
      await logAccess(hash, caller.organizationId, "grant", "done", `organization ${organizationId}`);
      return metadataOf(row);
    },

    async revoke(caller, hash, organizationId) {
      const row = await ownedDocument(caller, hash);
      if (organizationId === row.owner_id)
        throw conflict("OWNER_STAYS_READER", `organization ${organizationId} owns document ${hash} and stays its reader`);
      await db.deleteFrom("quality_document_readers").where("document_hash", "=", hash).where("organization_id", "=", organizationId).execute();
      await logAccess(hash, caller.organizationId, "revoke", "done", `organization ${organizationId}`);
      return metadataOf(row);
    },

    async ofBatch(caller, batchId) {
      const rows = await db
        .selectFrom("quality_documents")
        .innerJoin("quality_document_readers", "quality_document_readers.document_hash", "quality_documents.hash")
        .selectAll("quality_documents")
        .where("quality_documents.batch_id", "=", batchId)
        .where("quality_document_readers.organization_id", "=", caller.organizationId)
        .orderBy("quality_documents.record_block")
        .orderBy("quality_documents.record_log")
        .execute();
      return Promise.all(rows.map(metadataOf));
    },
  };
}

function notReader(caller: DocumentCaller, hash: string) {
  return notAllowed("NOT_DOCUMENT_READER", `organization ${caller.organizationId} is not a reader of document ${hash}`);
}

function toMetadata(row: QualityDocumentTable, readers: number[]): DocumentMetadata {
  return {
    hash: row.hash,
    record: { transactionHash: row.record_tx, blockNumber: row.record_block, logIndex: row.record_log, event: row.event_name, field: row.field },
    batchId: row.batch_id,
    agreementId: row.agreement_id,
    ownerId: row.owner_id,
    uploadedBy: row.uploaded_by,
    uploadedAt: row.uploaded_at,
    fileName: row.file_name,
    mediaType: row.media_type,
    size: row.size,
    readers,
  };
}

/** The document hashes an event's attested struct records: its bytes32 fields named `…Hash`, by field name. */
function hashFieldsOf(event: LedgerEventTable): [string, string][] {
  const spec = ATTESTATION_BY_EVENT.get(event.name);
  if (!spec) return [];
  const args = payloadOf(event);
  return spec.fields
    .filter((f) => f.type === "bytes32" && f.name.endsWith("Hash") && typeof args[f.name] === "string")
    .map((f) => [f.name, String(args[f.name]).toLowerCase()]);
}

/**
 * Who an attestation involves: the organization that signed it, every organization its struct or event names
 * (`…Id` fields: MAH, CMO, counterparty, shipper, recipient, holder, owner …), the batch's MAH and CMO, the
 * agreement's parties. Its readers add the regulators of those parties' provinces.
 */
async function involvedIn(db: Kysely<Database>, event: LedgerEventTable): Promise<{ parties: Set<number>; readers: Set<number> }> {
  const named = new Set<number>();
  if (event.organization_id !== null) named.add(event.organization_id);
  for (const [name, value] of Object.entries(payloadOf(event))) {
    if (!name.endsWith("Id") || (typeof value !== "number" && typeof value !== "string") || String(value).startsWith("0x")) continue;
    const id = Number(value);
    if (Number.isSafeInteger(id) && id > 0) named.add(id);
  }
  if (event.batch_id) {
    const batch = await db.selectFrom("batches").select(["mah_id", "cmo_id"]).where("id", "=", event.batch_id).executeTakeFirst();
    if (batch) named.add(batch.mah_id).add(batch.cmo_id);
  }
  if (event.agreement_id) {
    const agreement = await db.selectFrom("agreements").select(["mah_id", "counterparty_id"]).where("id", "=", event.agreement_id).executeTakeFirst();
    if (agreement) named.add(agreement.mah_id).add(agreement.counterparty_id);
  }
  const organizations = await db.selectFrom("organizations").select(["id", "role", "region"]).execute();
  const known = new Map(organizations.map((o) => [o.id, o]));
  const parties = new Set([...named].filter((id) => known.has(id)));
  const provinces = new Set([...parties].map((id) => provinceOf(known.get(id)!.region)));
  const readers = new Set(parties);
  for (const o of organizations) if (o.role === "REGULATOR" && provinces.has(provinceOf(o.region))) readers.add(o.id);
  return { parties, readers };
}
