import { sql } from "kysely";
import type { Kysely, Migration, MigrationProvider } from "kysely";
import { isSqlite } from "./dialect";

/**
 * Schema migrations, in order. The same statements serve SQLite and PostgreSQL: only portable types
 * (text, integer, bigint) and plain indexes. One migration (0027) changes how SQLite alone stores two tables.
 */
const migrations: Record<string, Migration> = {
  "0001_read_model": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("sync_state")
        .addColumn("id", "integer", (c) => c.primaryKey())
        .addColumn("chain_id", "bigint", (c) => c.notNull())
        .addColumn("genesis_hash", "text", (c) => c.notNull())
        .addColumn("deployment", "text", (c) => c.notNull())
        .addColumn("block_number", "bigint", (c) => c.notNull())
        .addColumn("block_hash", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("indexed_blocks")
        .addColumn("block_number", "bigint", (c) => c.primaryKey())
        .addColumn("block_hash", "text", (c) => c.notNull())
        .addColumn("block_time", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("ledger_events")
        .addColumn("block_number", "bigint", (c) => c.notNull())
        .addColumn("log_index", "integer", (c) => c.notNull())
        .addColumn("block_hash", "text", (c) => c.notNull())
        .addColumn("block_time", "bigint", (c) => c.notNull())
        .addColumn("tx_hash", "text", (c) => c.notNull())
        .addColumn("contract", "text", (c) => c.notNull())
        .addColumn("address", "text", (c) => c.notNull())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("batch_id", "text")
        .addColumn("agreement_id", "text")
        .addColumn("organization_id", "integer")
        .addColumn("signer", "text")
        .addColumn("signer_organization_id", "integer")
        .addColumn("verification", "text", (c) => c.notNull())
        .addColumn("problem", "text")
        .addColumn("payload", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("ledger_events_pk", ["block_number", "log_index"])
        .execute();
      await db.schema.createIndex("ledger_events_batch").on("ledger_events").columns(["batch_id", "block_number"]).execute();
      await db.schema.createIndex("ledger_events_organization").on("ledger_events").columns(["organization_id", "block_number"]).execute();
      await db.schema.createIndex("ledger_events_verification").on("ledger_events").column("verification").execute();
      await db.schema.createIndex("ledger_events_agreement").on("ledger_events").column("agreement_id").execute();
      await db.schema.createIndex("ledger_events_tx").on("ledger_events").column("tx_hash").execute();

      await db.schema
        .createTable("organizations")
        .addColumn("id", "integer", (c) => c.primaryKey())
        .addColumn("role", "text", (c) => c.notNull())
        .addColumn("region", "integer", (c) => c.notNull())
        .addColumn("licence_hash", "text", (c) => c.notNull())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("onboarded_by", "integer", (c) => c.notNull())
        .addColumn("onboarded_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("signing_keys")
        .addColumn("address", "text", (c) => c.primaryKey())
        .addColumn("organization_id", "integer", (c) => c.notNull())
        .addColumn("revoked", "integer", (c) => c.notNull())
        .addColumn("added_at", "bigint", (c) => c.notNull())
        .addColumn("revoked_at", "bigint")
        .execute();
      await db.schema
        .createTable("products")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("product_code", "text", (c) => c.notNull().unique())
        .addColumn("approval_number", "text", (c) => c.notNull())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("mah_id", "integer", (c) => c.notNull())
        .addColumn("registered_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("agreements")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("mah_id", "integer", (c) => c.notNull())
        .addColumn("counterparty_id", "integer", (c) => c.notNull())
        .addColumn("product_id", "text", (c) => c.notNull())
        .addColumn("document_hash", "text", (c) => c.notNull())
        .addColumn("valid_from", "bigint", (c) => c.notNull())
        .addColumn("valid_until", "bigint", (c) => c.notNull())
        .addColumn("release_tester", "text", (c) => c.notNull())
        .addColumn("revoked", "integer", (c) => c.notNull())
        .addColumn("signed_at", "bigint", (c) => c.notNull())
        .addColumn("revoked_at", "bigint")
        .execute();
      await db.schema
        .createTable("batches")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("product_id", "text", (c) => c.notNull())
        .addColumn("batch_number", "text", (c) => c.notNull())
        .addColumn("mah_id", "integer", (c) => c.notNull())
        .addColumn("cmo_id", "integer", (c) => c.notNull())
        .addColumn("agreement_id", "text", (c) => c.notNull())
        .addColumn("quantity", "bigint", (c) => c.notNull())
        .addColumn("manufactured_at", "bigint", (c) => c.notNull())
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .addColumn("batch_record_hash", "text", (c) => c.notNull())
        .addColumn("codes_root", "text", (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("recall_status", "text", (c) => c.notNull())
        .addColumn("recall_level", "text")
        .addColumn("open_deviations", "integer", (c) => c.notNull())
        .addColumn("in_transit", "bigint", (c) => c.notNull())
        .addColumn("dispensed", "bigint", (c) => c.notNull())
        .addColumn("destroyed", "bigint", (c) => c.notNull())
        .addColumn("missing", "bigint", (c) => c.notNull())
        .addColumn("recorded_at", "bigint", (c) => c.notNull())
        .addColumn("factory_released_at", "bigint")
        .addColumn("market_released_at", "bigint")
        .execute();
      await db.schema.createIndex("batches_product").on("batches").columns(["product_id", "batch_number"]).execute();
      await db.schema.createIndex("batches_mah").on("batches").columns(["mah_id", "id"]).execute();
      await db.schema.createIndex("batches_cmo").on("batches").columns(["cmo_id", "id"]).execute();
      await db.schema
        .createTable("deviations")
        .addColumn("batch_id", "text", (c) => c.notNull())
        .addColumn("report_hash", "text", (c) => c.notNull())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("opened_by", "integer", (c) => c.notNull())
        .addColumn("opened_at", "bigint", (c) => c.notNull())
        .addColumn("closed_by", "integer")
        .addColumn("closure_hash", "text")
        .addColumn("closed_at", "bigint")
        .addPrimaryKeyConstraint("deviations_pk", ["batch_id", "report_hash"])
        .execute();
      await db.schema
        .createTable("shipments")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("batch_id", "text", (c) => c.notNull())
        .addColumn("shipper_id", "integer", (c) => c.notNull())
        .addColumn("recipient_id", "integer", (c) => c.notNull())
        .addColumn("quantity", "bigint", (c) => c.notNull())
        .addColumn("codes_root", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("received_quantity", "bigint")
        .addColumn("shipped_at", "bigint", (c) => c.notNull())
        .addColumn("received_at", "bigint")
        .execute();
      await db.schema.createIndex("shipments_batch").on("shipments").column("batch_id").execute();
      await db.schema.createIndex("shipments_recipient").on("shipments").columns(["recipient_id", "status"]).execute();
      await db.schema
        .createTable("holdings")
        .addColumn("batch_id", "text", (c) => c.notNull())
        .addColumn("organization_id", "integer", (c) => c.notNull())
        .addColumn("quantity", "bigint", (c) => c.notNull())
        .addColumn("recall_acknowledged", "integer", (c) => c.notNull())
        .addPrimaryKeyConstraint("holdings_pk", ["batch_id", "organization_id"])
        .execute();
      await db.schema.createIndex("holdings_organization").on("holdings").columns(["organization_id", "batch_id"]).execute();
      await db.schema
        .createTable("dispensed_packs")
        .addColumn("pack", "text", (c) => c.primaryKey())
        .addColumn("batch_id", "text", (c) => c.notNull())
        .addColumn("dispenser_id", "integer", (c) => c.notNull())
        .addColumn("dispensed_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("recalls")
        .addColumn("batch_id", "text", (c) => c.primaryKey())
        .addColumn("level", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("started_by", "integer", (c) => c.notNull())
        .addColumn("reason_hash", "text", (c) => c.notNull())
        .addColumn("started_at", "bigint", (c) => c.notNull())
        .addColumn("closed_by", "integer")
        .addColumn("report_hash", "text")
        .addColumn("closed_at", "bigint")
        .execute();
      await db.schema
        .createTable("recall_acknowledgements")
        .addColumn("batch_id", "text", (c) => c.notNull())
        .addColumn("holder_id", "integer", (c) => c.notNull())
        .addColumn("quarantined_quantity", "bigint", (c) => c.notNull())
        .addColumn("acknowledged_at", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("recall_acknowledgements_pk", ["batch_id", "holder_id"])
        .execute();
    },
  },
  "0002_batch_codes": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("code_trees")
        .addColumn("batch_id", "text", (c) => c.primaryKey())
        .addColumn("root", "text", (c) => c.notNull())
        .addColumn("code_count", "bigint", (c) => c.notNull())
        .addColumn("tree_path", "text", (c) => c.notNull())
        .addColumn("registered_by", "integer", (c) => c.notNull())
        .addColumn("registered_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("batch_codes")
        .addColumn("canonical_key", "text", (c) => c.primaryKey())
        .addColumn("batch_id", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("batch_codes_batch").on("batch_codes").column("batch_id").execute();
    },
  },
  "0003_alerts": {
    async up(db: Kysely<unknown>) {
      // The alert engine's positions (ledger events, the clock); updated only where they still hold the value the
      // engine read, so two engines on one database cannot both write the same alerts.
      await db.schema
        .createTable("alert_cursors")
        .addColumn("name", "text", (c) => c.primaryKey())
        .addColumn("block_number", "bigint", (c) => c.notNull())
        .addColumn("log_index", "integer", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("alert_blocks")
        .addColumn("block_number", "bigint", (c) => c.primaryKey())
        .addColumn("block_hash", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("alerts")
        .addColumn("id", "bigint", (c) => c.primaryKey())
        .addColumn("key", "text", (c) => c.notNull().unique())
        .addColumn("rule", "text", (c) => c.notNull())
        .addColumn("severity", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("organization_id", "integer")
        .addColumn("batch_id", "text")
        .addColumn("subject", "text")
        .addColumn("message", "text", (c) => c.notNull())
        .addColumn("details", "text", (c) => c.notNull())
        .addColumn("source_block", "bigint")
        .addColumn("source_log", "integer")
        .addColumn("source_block_hash", "text")
        .addColumn("observed_at", "bigint", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("closed_at", "bigint")
        .addColumn("closed_reason", "text")
        .execute();
      await db.schema.createIndex("alerts_organization").on("alerts").columns(["organization_id", "status", "observed_at"]).execute();
      await db.schema.createIndex("alerts_status").on("alerts").columns(["status", "rule"]).execute();
      await db.schema.createIndex("alerts_source").on("alerts").columns(["source_block"]).execute();
      await db.schema
        .createTable("notifications")
        .addColumn("id", "bigint", (c) => c.primaryKey())
        .addColumn("organization_id", "integer", (c) => c.notNull())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("idempotency_key", "text", (c) => c.notNull().unique())
        .addColumn("alert_id", "bigint")
        .addColumn("event_block", "bigint")
        .addColumn("event_log", "integer")
        .addColumn("payload", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("notifications_organization").on("notifications").columns(["organization_id", "id"]).execute();
      await db.schema.createIndex("notifications_alert").on("notifications").columns(["alert_id", "organization_id"]).execute();
      await db.schema
        .createTable("scan_observations")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("organization_id", "integer", (c) => c.notNull())
        .addColumn("canonical_key", "text", (c) => c.notNull())
        .addColumn("product_code", "text")
        .addColumn("product_registered", "integer", (c) => c.notNull())
        .addColumn("batch_id", "text")
        .addColumn("verdict", "text", (c) => c.notNull())
        .addColumn("place", "text")
        .addColumn("observed_at", "bigint", (c) => c.notNull())
        .addColumn("evaluated", "integer", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("scan_observations_pending").on("scan_observations").columns(["evaluated", "observed_at"]).execute();
      await db.schema
        .createIndex("scan_observations_organization")
        .on("scan_observations")
        .columns(["organization_id", "verdict", "observed_at"])
        .execute();
      await db.schema
        .createTable("recall_progress_reports")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("batch_id", "text", (c) => c.notNull())
        .addColumn("reported_by", "integer", (c) => c.notNull())
        .addColumn("report_hash", "text", (c) => c.notNull())
        .addColumn("reported_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("recall_progress_reports_batch").on("recall_progress_reports").columns(["batch_id", "reported_at"]).execute();
      await db.schema
        .createTable("webhook_subscriptions")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("organization_id", "integer", (c) => c.notNull())
        .addColumn("url", "text", (c) => c.notNull())
        .addColumn("kinds", "text", (c) => c.notNull())
        .addColumn("secret", "text", (c) => c.notNull())
        .addColumn("description", "text")
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("after_notification_id", "bigint", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("deleted_at", "bigint")
        .execute();
      await db.schema.createIndex("webhook_subscriptions_organization").on("webhook_subscriptions").columns(["organization_id", "status"]).execute();
      await db.schema
        .createTable("webhook_deliveries")
        .addColumn("subscription_id", "text", (c) => c.notNull())
        .addColumn("notification_id", "bigint", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("attempts", "integer", (c) => c.notNull())
        .addColumn("next_attempt_at", "bigint", (c) => c.notNull())
        .addColumn("last_status", "integer")
        .addColumn("last_error", "text")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("delivered_at", "bigint")
        .addPrimaryKeyConstraint("webhook_deliveries_pk", ["subscription_id", "notification_id"])
        .execute();
      await db.schema.createIndex("webhook_deliveries_due").on("webhook_deliveries").columns(["status", "next_attempt_at"]).execute();
      await db.schema
        .createTable("webhook_attempts")
        .addColumn("subscription_id", "text", (c) => c.notNull())
        .addColumn("notification_id", "bigint", (c) => c.notNull())
        .addColumn("attempt", "integer", (c) => c.notNull())
        .addColumn("attempted_at", "bigint", (c) => c.notNull())
        .addColumn("status_code", "integer")
        .addColumn("error", "text")
        .addColumn("duration_ms", "integer", (c) => c.notNull())
        .addPrimaryKeyConstraint("webhook_attempts_pk", ["subscription_id", "notification_id", "attempt"])
        .execute();
    },
  },
  "0004_redeemed_challenges": {
    async up(db: Kysely<unknown>) {
      // The primary key is what makes a challenge single-use across every API server sharing the database.
      await db.schema
        .createTable("redeemed_challenges")
        .addColumn("nonce", "text", (c) => c.primaryKey())
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("redeemed_challenges_expiry").on("redeemed_challenges").column("expires_at").execute();
    },
  },
  "0005_store_identity": {
    async up(db: Kysely<unknown>) {
      // One row: which store this is, also recorded in the data directory, so a store that was lost and quietly
      // replaced by an empty one is told apart from a new one.
      await db.schema
        .createTable("store_identity")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
    },
  },
  "0006_store_identity_slot": {
    async up(db: Kysely<unknown>) {
      // The id gets a fixed key (slot 1), so servers starting together on a new database agree on one id instead
      // of each writing its own; of several written that way, the first is kept.
      await db.schema
        .createTable("store_identity_slot")
        .addColumn("slot", "integer", (c) => c.primaryKey())
        .addColumn("id", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      await sql`INSERT INTO store_identity_slot (slot, id, created_at) SELECT 1, id, created_at FROM store_identity ORDER BY created_at, id LIMIT 1`.execute(
        db,
      );
      await db.schema.dropTable("store_identity").execute();
      await db.schema.alterTable("store_identity_slot").renameTo("store_identity").execute();
    },
  },
  "0007_batch_holds": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable("batches")
        .addColumn("hold_status", "text", (c) => c.notNull().defaultTo("NONE"))
        .execute();
      await db.schema
        .createTable("batch_holds")
        .addColumn("batch_id", "text", (c) => c.primaryKey())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("cause", "text", (c) => c.notNull())
        .addColumn("placed_by", "integer", (c) => c.notNull())
        .addColumn("reason_hash", "text", (c) => c.notNull())
        .addColumn("placed_at", "bigint", (c) => c.notNull())
        .addColumn("released_by", "integer")
        .addColumn("release_reason_hash", "text")
        .addColumn("ended_at", "bigint")
        .execute();
    },
  },
  "0008_recall_reconciliation": {
    async up(db: Kysely<unknown>) {
      for (const column of ["dispensed_quantity", "destroyed_quantity", "missing_quantity"]) {
        await db.schema
          .alterTable("recall_acknowledgements")
          .addColumn(column, "bigint", (c) => c.notNull().defaultTo(0))
          .execute();
      }
    },
  },
  "0009_pack_states": {
    async up(db: Kysely<unknown>) {
      // A pack has one state at a time (dispensed, destroyed, stolen, sample, exported, locked; ACTIVE once undone):
      // dispensed_packs becomes pack_states, its rows DISPENSED by their dispenser.
      await db.schema
        .createTable("pack_states")
        .addColumn("pack", "text", (c) => c.primaryKey())
        .addColumn("batch_id", "text", (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("organization_id", "integer", (c) => c.notNull())
        .addColumn("changed_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("pack_states_batch").on("pack_states").column("batch_id").execute();
      await sql`insert into pack_states (pack, batch_id, state, organization_id, changed_at)
        select pack, batch_id, 'DISPENSED', dispenser_id, dispensed_at from dispensed_packs`.execute(db);
      await db.schema.dropTable("dispensed_packs").execute();
      // The batch's packs out of the supply chain by these states, beside dispensed and destroyed.
      for (const column of ["stolen", "sampled", "exported"]) {
        await db.schema
          .alterTable("batches")
          .addColumn(column, "bigint", (c) => c.notNull().defaultTo(0))
          .execute();
      }
    },
  },
  "0010_unverified_attestations": {
    async up(db: Kysely<unknown>) {
      // Every scan asks whether its batch has an attestation not (yet) verified: few rows, so a partial index
      // answers it without reading the batch's whole history. Partial indexes are portable to both databases.
      await sql`CREATE INDEX ledger_events_unverified ON ledger_events (batch_id) WHERE ${sql.raw(UNVERIFIED_SQL)}`.execute(db);
    },
  },
  "0011_scan_facts_and_code_claims": {
    async up(db: Kysely<unknown>) {
      // A tag changed in the same transaction as anything a scan's cached batch facts are made of (the batch row,
      // its product and parties, its unverified attestations): the scan reads it with the code, in one statement,
      // and trusts its cached facts only while it is the same (src/store/scan-reads.ts).
      await db.schema
        .alterTable("batches")
        .addColumn("facts_version", "bigint", (c) => c.notNull().defaultTo(0))
        .execute();
      // The server writing a batch's codes, a chunk per transaction: it alone may write or delete the batch's rows
      // until it finishes, gives up, or stops renewing its claim (src/api/codebook.ts).
      await db.schema
        .createTable("code_registration_claims")
        .addColumn("batch_id", "text", (c) => c.primaryKey())
        .addColumn("claim", "text", (c) => c.notNull())
        .addColumn("renewed_at", "bigint", (c) => c.notNull())
        .execute();
    },
  },
  "0012_lean_event_indexes": {
    async up(db: Kysely<unknown>) {
      // Every event written paid for an entry in an index of its verification (a handful of values, only ever asked
      // for 'pending') and one of its agreement id (NULL for all but agreements' events). Partial indexes hold only
      // the rows those queries ask for: nothing to maintain for a fully verified event, and each query's own
      // condition (verification = 'pending', agreement_id = / IN) is what lets the database use them.
      await db.schema.dropIndex("ledger_events_verification").execute();
      await sql`CREATE INDEX ledger_events_pending ON ledger_events (block_number, log_index) WHERE verification = 'pending'`.execute(db);
      await db.schema.dropIndex("ledger_events_agreement").execute();
      await sql`CREATE INDEX ledger_events_agreement ON ledger_events (agreement_id) WHERE agreement_id IS NOT NULL`.execute(db);
    },
  },
  "0013_quality": {
    async up(db: Kysely<unknown>) {
      // Deviations with substance: severity and category as signed when opened (NONE for rows of an earlier
      // ledger), root cause and impact on the batch as signed when closed.
      await db.schema
        .alterTable("deviations")
        .addColumn("severity", "text", (c) => c.notNull().defaultTo("NONE"))
        .execute();
      await db.schema
        .alterTable("deviations")
        .addColumn("category", "text", (c) => c.notNull().defaultTo("NONE"))
        .execute();
      await db.schema.alterTable("deviations").addColumn("root_cause", "text").execute();
      await db.schema.alterTable("deviations").addColumn("batch_impact", "text").execute();
      await db.schema
        .createTable("capas")
        .addColumn("batch_id", "text", (c) => c.notNull())
        .addColumn("capa_hash", "text", (c) => c.notNull())
        .addColumn("report_hash", "text", (c) => c.notNull())
        .addColumn("recorded_by", "integer", (c) => c.notNull())
        .addColumn("owner_id", "integer", (c) => c.notNull())
        .addColumn("due_at", "bigint", (c) => c.notNull())
        .addColumn("recorded_at", "bigint", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("checked_by", "integer")
        .addColumn("check_hash", "text")
        .addColumn("checked_at", "bigint")
        .addPrimaryKeyConstraint("capas_pk", ["batch_id", "capa_hash"])
        .execute();
      await db.schema.createIndex("capas_due").on("capas").columns(["status", "due_at"]).execute();
      // Quality documents (off-chain, addressed by the hash an attestation records): metadata, the content
      // encrypted under a per-document key, that key wrapped for each reader, and every access.
      await db.schema
        .createTable("quality_documents")
        .addColumn("hash", "text", (c) => c.primaryKey())
        .addColumn("record_block", "bigint", (c) => c.notNull())
        .addColumn("record_log", "integer", (c) => c.notNull())
        .addColumn("record_tx", "text", (c) => c.notNull())
        .addColumn("event_name", "text", (c) => c.notNull())
        .addColumn("field", "text", (c) => c.notNull())
        .addColumn("batch_id", "text")
        .addColumn("agreement_id", "text")
        .addColumn("owner_id", "integer", (c) => c.notNull())
        .addColumn("uploaded_by", "integer", (c) => c.notNull())
        .addColumn("uploaded_at", "bigint", (c) => c.notNull())
        .addColumn("file_name", "text", (c) => c.notNull())
        .addColumn("media_type", "text", (c) => c.notNull())
        .addColumn("size", "bigint", (c) => c.notNull())
        .addColumn("content_location", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("quality_documents_batch").on("quality_documents").column("batch_id").execute();
      await db.schema
        .createTable("quality_document_readers")
        .addColumn("document_hash", "text", (c) => c.notNull())
        .addColumn("organization_id", "integer", (c) => c.notNull())
        .addColumn("wrapped_key", "text", (c) => c.notNull())
        .addColumn("granted_by", "integer", (c) => c.notNull())
        .addColumn("granted_at", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("quality_document_readers_pk", ["document_hash", "organization_id"])
        .execute();
      await db.schema
        .createTable("quality_document_contents")
        .addColumn("document_hash", "text", (c) => c.primaryKey())
        .addColumn("ciphertext", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("quality_document_accesses")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("document_hash", "text", (c) => c.notNull())
        .addColumn("organization_id", "integer", (c) => c.notNull())
        .addColumn("action", "text", (c) => c.notNull())
        .addColumn("outcome", "text", (c) => c.notNull())
        .addColumn("detail", "text")
        .addColumn("at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("quality_document_accesses_document").on("quality_document_accesses").columns(["document_hash", "at"]).execute();
    },
  },
  "0014_quality_duties": {
    async up(db: Kysely<unknown>) {
      // The MAH's quality duties (QualityDuties): products' risk classes, named responsible persons, a batch's
      // sterile records and laboratory certificate, and quarterly quality reviews.
      await db.schema
        .createTable("product_risk_classes")
        .addColumn("product_id", "text", (c) => c.primaryKey())
        .addColumn("risk_class", "text", (c) => c.notNull())
        .addColumn("classified_by", "integer", (c) => c.notNull())
        .addColumn("classified_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("responsible_persons")
        .addColumn("product_id", "text", (c) => c.notNull())
        .addColumn("person_key", "text", (c) => c.notNull())
        .addColumn("mah_id", "integer", (c) => c.notNull())
        .addColumn("role", "text", (c) => c.notNull())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("revoked", "integer", (c) => c.notNull())
        .addColumn("appointed_at", "bigint", (c) => c.notNull())
        .addColumn("revoked_at", "bigint")
        .addColumn("revocation_reason_hash", "text")
        .addPrimaryKeyConstraint("responsible_persons_pk", ["product_id", "person_key"])
        .execute();
      await db.schema.createIndex("responsible_persons_mah").on("responsible_persons").column("mah_id").execute();
      await db.schema
        .createTable("batch_quality_records")
        .addColumn("batch_id", "text", (c) => c.primaryKey())
        .addColumn("environmental_monitoring_hash", "text")
        .addColumn("cleaning_record_hash", "text")
        .addColumn("sterile_records_at", "bigint")
        .addColumn("laboratory_id", "integer")
        .addColumn("testing_agreement_id", "text")
        .addColumn("certificate_hash", "text")
        .addColumn("certificate_passed", "integer")
        .addColumn("certified_at", "bigint")
        .execute();
      await db.schema
        .createTable("quality_reviews")
        .addColumn("product_id", "text", (c) => c.notNull())
        .addColumn("year", "integer", (c) => c.notNull())
        .addColumn("quarter", "integer", (c) => c.notNull())
        .addColumn("mah_id", "integer", (c) => c.notNull())
        .addColumn("risk_level", "text", (c) => c.notNull())
        .addColumn("review_hash", "text", (c) => c.notNull())
        .addColumn("filed_at", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("quality_reviews_pk", ["product_id", "year", "quarter"])
        .execute();
    },
  },
  "0014_quality_notices": {
    async up(db: Kysely<unknown>) {
      // The communication log of each quality agreement: its agreed channels and response time, and each notice
      // with its acknowledgement.
      await db.schema
        .createTable("communication_terms")
        .addColumn("agreement_id", "text", (c) => c.primaryKey())
        .addColumn("channels", "integer", (c) => c.notNull())
        .addColumn("response_seconds", "bigint", (c) => c.notNull())
        .addColumn("terms_hash", "text", (c) => c.notNull())
        .addColumn("recorded_by", "integer", (c) => c.notNull())
        .addColumn("recorded_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("quality_notices")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("agreement_id", "text", (c) => c.notNull())
        .addColumn("sender_id", "integer", (c) => c.notNull())
        .addColumn("recipient_id", "integer", (c) => c.notNull())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("channel", "integer", (c) => c.notNull())
        .addColumn("notice_hash", "text", (c) => c.notNull())
        .addColumn("sent_at", "bigint", (c) => c.notNull())
        .addColumn("due_at", "bigint", (c) => c.notNull())
        .addColumn("acknowledged_at", "bigint")
        .addColumn("response_hash", "text")
        .execute();
      await db.schema.createIndex("quality_notices_agreement").on("quality_notices").column("agreement_id").execute();
    },
  },
  "0015_alert_cases": {
    async up(db: Kysely<unknown>) {
      // Alert cases and suspect-product reports (AlertCases contract): derived from the chain, rebuilt with it.
      await db.schema
        .createTable("alert_cases")
        .addColumn("alert_key", "text", (c) => c.primaryKey())
        .addColumn("subject_id", "integer", (c) => c.notNull())
        .addColumn("owner_id", "integer", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("reason_hash", "text")
        .addColumn("revision", "integer", (c) => c.notNull())
        .addColumn("opened_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .addColumn("closed_at", "bigint")
        .execute();
      await db.schema
        .createTable("alert_case_history")
        .addColumn("alert_key", "text", (c) => c.notNull())
        .addColumn("revision", "integer", (c) => c.notNull())
        .addColumn("organization_id", "integer", (c) => c.notNull())
        .addColumn("action", "text", (c) => c.notNull())
        .addColumn("previous_owner_id", "integer")
        .addColumn("reason_hash", "text")
        .addColumn("at", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("alert_case_history_pk", ["alert_key", "revision"])
        .execute();
      await db.schema
        .createTable("suspect_reports")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("batch_id", "text", (c) => c.notNull())
        .addColumn("filed_by", "integer", (c) => c.notNull())
        .addColumn("reason_hash", "text", (c) => c.notNull())
        .addColumn("packs", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("outcome", "text", (c) => c.notNull())
        .addColumn("terminated_by", "integer")
        .addColumn("termination_reason_hash", "text")
        .addColumn("filed_at", "bigint", (c) => c.notNull())
        .addColumn("terminated_at", "bigint")
        .execute();
      await db.schema.createIndex("suspect_reports_batch").on("suspect_reports").columns(["batch_id", "status"]).execute();
      // Off-chain, written by the alert engine: when an open case passed its due date and was escalated.
      await db.schema
        .createTable("alert_escalations")
        .addColumn("alert_id", "bigint", (c) => c.primaryKey())
        .addColumn("due_at", "bigint", (c) => c.notNull())
        .addColumn("escalated_at", "bigint", (c) => c.notNull())
        .execute();
      // Reasons' texts, by the hash signed on chain: anyone may add one, and it shows only where its hash was signed.
      await db.schema
        .createTable("reason_texts")
        .addColumn("hash", "text", (c) => c.primaryKey())
        .addColumn("text", "text", (c) => c.notNull())
        .addColumn("organization_id", "integer", (c) => c.notNull())
        .addColumn("added_at", "bigint", (c) => c.notNull())
        .execute();
    },
  },
  "0018_cases_and_pallets": {
    async up(db: Kysely<unknown>) {
      // Read model of AggregationLedger's events.
      await db.schema
        .createTable("batch_aggregations")
        .addColumn("batch_id", "text", (c) => c.primaryKey())
        .addColumn("aggregation_root", "text", (c) => c.notNull())
        .addColumn("containers", "bigint", (c) => c.notNull())
        .addColumn("packs", "bigint", (c) => c.notNull())
        .addColumn("committed_by", "integer", (c) => c.notNull())
        .addColumn("committed_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("unpacked_units")
        .addColumn("container_id", "text", (c) => c.notNull())
        .addColumn("unit_id", "text", (c) => c.notNull())
        .addColumn("batch_id", "text", (c) => c.notNull())
        .addColumn("organization_id", "integer", (c) => c.notNull())
        .addColumn("unpacked_at", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("unpacked_units_pk", ["container_id", "unit_id"])
        .execute();
      // Registered off-chain against the committed roots (as batch_codes is against the codes root).
      await db.schema
        .createTable("aggregation_units")
        .addColumn("container_key", "text", (c) => c.notNull())
        .addColumn("unit_key", "text", (c) => c.notNull())
        .addColumn("batch_id", "text", (c) => c.notNull())
        .addColumn("container_id", "text", (c) => c.notNull())
        .addColumn("unit_id", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("aggregation_units_pk", ["container_key", "unit_key"])
        .execute();
      await db.schema.createIndex("aggregation_units_unit").on("aggregation_units").column("unit_key").execute();
      await db.schema.createIndex("aggregation_units_batch").on("aggregation_units").column("batch_id").execute();
      await db.schema
        .createTable("shipment_units")
        .addColumn("shipment_id", "text", (c) => c.notNull())
        .addColumn("unit_key", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("shipment_units_pk", ["shipment_id", "unit_key"])
        .execute();
      await db.schema
        .createTable("shipment_reconciliations")
        .addColumn("shipment_id", "text", (c) => c.primaryKey())
        .addColumn("recorded_by", "integer", (c) => c.notNull())
        .addColumn("expected_packs", "bigint", (c) => c.notNull())
        .addColumn("received_packs", "bigint", (c) => c.notNull())
        .addColumn("missing_packs", "bigint", (c) => c.notNull())
        .addColumn("unexpected_units", "bigint", (c) => c.notNull())
        .addColumn("recorded_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("shipment_differences")
        .addColumn("shipment_id", "text", (c) => c.notNull())
        .addColumn("code_key", "text", (c) => c.notNull())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("container_key", "text")
        .addPrimaryKeyConstraint("shipment_differences_pk", ["shipment_id", "code_key"])
        .execute();
    },
  },
  "0016_supervision": {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable("organizations").addColumn("licence_valid_until", "bigint").execute();
      await db.schema
        .alterTable("agreements")
        .addColumn("approval", "text", (c) => c.notNull().defaultTo("NOT_REQUIRED"))
        .execute();
      for (const [column, type] of [
        ["opinion_by", "integer"],
        ["opinion_hash", "text"],
        ["opinion_at", "bigint"],
        ["approved_by", "integer"],
        ["approval_hash", "text"],
        ["approved_at", "bigint"],
      ] as const) {
        await db.schema.alterTable("agreements").addColumn(column, type).execute();
      }
      await db.schema
        .createTable("inspections")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("regulator_id", "integer", (c) => c.notNull())
        .addColumn("province", "integer", (c) => c.notNull())
        .addColumn("organization_id", "integer", (c) => c.notNull())
        .addColumn("site", "text", (c) => c.notNull())
        .addColumn("scope", "text", (c) => c.notNull())
        .addColumn("critical_findings", "integer", (c) => c.notNull())
        .addColumn("major_findings", "integer", (c) => c.notNull())
        .addColumn("minor_findings", "integer", (c) => c.notNull())
        .addColumn("grade", "text", (c) => c.notNull())
        .addColumn("inspected_at", "bigint", (c) => c.notNull())
        .addColumn("document_hash", "text", (c) => c.notNull())
        .addColumn("recorded_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("inspections_organization").on("inspections").columns(["organization_id", "inspected_at"]).execute();
      await db.schema
        .createTable("inspection_recognitions")
        .addColumn("inspection_id", "text", (c) => c.notNull())
        .addColumn("province", "integer", (c) => c.notNull())
        .addColumn("regulator_id", "integer", (c) => c.notNull())
        .addColumn("recognised_at", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("inspection_recognitions_pk", ["inspection_id", "province"])
        .execute();
      await db.schema
        .createTable("samplings")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("batch_id", "text", (c) => c.notNull())
        .addColumn("regulator_id", "integer", (c) => c.notNull())
        .addColumn("sampled_at_id", "integer", (c) => c.notNull())
        .addColumn("test", "text", (c) => c.notNull())
        .addColumn("passed", "integer", (c) => c.notNull())
        .addColumn("report_hash", "text", (c) => c.notNull())
        .addColumn("recorded_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("samplings_batch").on("samplings").column("batch_id").execute();
      // Off-chain, like alerts: the rating history the engine writes when a rating changes.
      await db.schema
        .createTable("risk_ratings")
        .addColumn("organization_id", "integer", (c) => c.notNull())
        .addColumn("rated_at", "bigint", (c) => c.notNull())
        .addColumn("level", "text", (c) => c.notNull())
        .addColumn("score", "integer", (c) => c.notNull())
        .addColumn("contributions", "text", (c) => c.notNull())
        .addColumn("inspections_per_year", "integer", (c) => c.notNull())
        .addPrimaryKeyConstraint("risk_ratings_pk", ["organization_id", "rated_at"])
        .execute();
    },
  },
  "0019_epcis_capture": {
    async up(db: Kysely<unknown>) {
      // EPCIS capture jobs: each document's verdict and the attestations it became, queryable by its organization.
      await db.schema
        .createTable("epcis_captures")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("organization_id", "integer", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("event_count", "integer", (c) => c.notNull())
        .addColumn("errors", "text", (c) => c.notNull())
        .addColumn("attestations", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("epcis_captures_organization").on("epcis_captures").columns(["organization_id", "created_at"]).execute();
    },
  },
  // A migration of its own, after 0019_epcis_capture had shipped: stores that ran that one get these tables too.
  "0019_epcis_cold_chain": {
    async up(db: Kysely<unknown>) {
      // Cold chain: a product's storage range (set by its MAH) and the readings of shipments' sensors (EPCIS
      // sensorElementList), in thousandths of a degree Celsius so both databases store them as integers.
      await db.schema
        .createTable("product_storage_ranges")
        .addColumn("product_id", "text", (c) => c.primaryKey())
        .addColumn("min_millicelsius", "integer", (c) => c.notNull())
        .addColumn("max_millicelsius", "integer", (c) => c.notNull())
        .addColumn("set_by", "integer", (c) => c.notNull())
        .addColumn("set_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("shipment_sensor_readings")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("shipment_id", "text", (c) => c.notNull())
        .addColumn("capture_id", "text", (c) => c.notNull())
        .addColumn("organization_id", "integer", (c) => c.notNull())
        .addColumn("device_id", "text")
        .addColumn("observed_at", "bigint", (c) => c.notNull())
        .addColumn("millicelsius", "integer", (c) => c.notNull())
        .addColumn("evaluated", "integer", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("shipment_sensor_readings_shipment")
        .on("shipment_sensor_readings")
        .columns(["shipment_id", "observed_at"])
        .execute();
      await db.schema.createIndex("shipment_sensor_readings_evaluated").on("shipment_sensor_readings").column("evaluated").execute();
    },
  },
  "0024_provenance_in_chain_order": {
    async up(db: Kysely<unknown>) {
      // A provenance page reads a batch's events, and its agreements', in chain order from a cursor: with the log
      // index in both indexes each part is one ordered range read that stops at the page's length, where before
      // every event of the batch was read and sorted for each page.
      await db.schema.dropIndex("ledger_events_batch").execute();
      await db.schema.createIndex("ledger_events_batch").on("ledger_events").columns(["batch_id", "block_number", "log_index"]).execute();
      await db.schema.dropIndex("ledger_events_agreement").execute();
      await sql`CREATE INDEX ledger_events_agreement ON ledger_events (agreement_id, block_number, log_index) WHERE agreement_id IS NOT NULL`.execute(
        db,
      );
    },
  },
  "0023_epcis_custody_and_queries": {
    async up(db: Kysely<unknown>) {
      // Signing keys kept by the server for organizations that chose custody, sealed under the custody master key.
      await db.schema
        .createTable("custody_keys")
        .addColumn("organization_id", "integer", (c) => c.primaryKey())
        .addColumn("address", "text", (c) => c.notNull())
        .addColumn("sealed_key", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      // What a capture signed and sent itself with a custody key: its transactions (JSON), empty for an unsigned job.
      await db.schema
        .alterTable("epcis_captures")
        .addColumn("transactions", "text", (c) => c.notNull().defaultTo("[]"))
        .execute();
      // EPCIS named queries (the REST binding's /queries), each an organization's, and their subscriptions.
      await db.schema
        .createTable("epcis_queries")
        .addColumn("organization_id", "integer", (c) => c.notNull())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("filters", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("epcis_queries_pk", ["organization_id", "name"])
        .execute();
      await db.schema
        .createTable("epcis_subscriptions")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("organization_id", "integer", (c) => c.notNull())
        .addColumn("query_name", "text", (c) => c.notNull())
        .addColumn("webhook_id", "text")
        .addColumn("public_url", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("epcis_subscriptions_query").on("epcis_subscriptions").columns(["organization_id", "query_name"]).execute();
    },
  },
  "0026_case_keys": {
    async up(db: Kysely<unknown>) {
      // The cases' key is the AlertCases contract's case key (alert and subject), not the alert's key: named so.
      for (const table of ["alert_cases", "alert_case_history"]) await db.schema.alterTable(table).renameColumn("alert_key", "case_key").execute();
    },
  },
  "0022_release_refusals": {
    async up(db: Kysely<unknown>) {
      // A batch its MAH refused market release (state REJECTED): when, and the hash of the signed reasons.
      await db.schema.alterTable("batches").addColumn("release_refused_at", "bigint").execute();
      await db.schema.alterTable("batches").addColumn("release_refusal_hash", "text").execute();
    },
  },
  "0020_quality_communication": {
    async up(db: Kysely<unknown>) {
      // The CMO's countersignature of a quality agreement's communication terms; shortage-listed products and
      // their MAH's stop-production reports; batches' retained samples and the MAH's approval.
      await db.schema.alterTable("communication_terms").addColumn("countersigned_by", "integer").execute();
      await db.schema.alterTable("communication_terms").addColumn("countersigned_at", "bigint").execute();
      await db.schema
        .createTable("shortage_listings")
        .addColumn("product_id", "text", (c) => c.primaryKey())
        .addColumn("listed", "integer", (c) => c.notNull())
        .addColumn("changed_by", "integer", (c) => c.notNull())
        .addColumn("basis_hash", "text", (c) => c.notNull())
        .addColumn("changed_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("stop_production_reports")
        .addColumn("product_id", "text", (c) => c.notNull())
        .addColumn("stop_at", "bigint", (c) => c.notNull())
        .addColumn("mah_id", "integer", (c) => c.notNull())
        .addColumn("report_hash", "text", (c) => c.notNull())
        .addColumn("reported_at", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("stop_production_reports_pk", ["product_id", "stop_at"])
        .execute();
      await db.schema
        .createTable("retained_samples")
        .addColumn("batch_id", "text", (c) => c.primaryKey())
        .addColumn("cmo_id", "integer", (c) => c.notNull())
        .addColumn("quantity", "integer", (c) => c.notNull())
        .addColumn("retain_until", "bigint", (c) => c.notNull())
        .addColumn("location", "text", (c) => c.notNull())
        .addColumn("recorded_at", "bigint", (c) => c.notNull())
        .addColumn("approved_by", "integer")
        .addColumn("approval_hash", "text")
        .addColumn("approved_at", "bigint")
        .execute();
    },
  },
  "0027_codes_and_pack_states_without_rowid": {
    async up(db: Kysely<unknown>) {
      // Every scan looks up its code and its pack's state by key. A SQLite table keyed by text keeps its rows by
      // rowid and its key in a separate index: two b-tree descents per lookup. A table WITHOUT ROWID is the b-tree
      // of its key: one descent. PostgreSQL's primary-key index leads straight to the row's heap page, and a
      // WITHOUT ROWID clause is SQLite's alone: nothing to change there. (The batch's facts version is read by its
      // key too, but an index of (id, facts_version) would go unused: without statistics SQLite prefers the unique
      // key's index, which needs the row.)
      if (!isSqlite(db)) return;
      await db.transaction().execute(async (trx) => {
        await rebuildWithoutRowid(trx, "batch_codes", "canonical_key text NOT NULL PRIMARY KEY, batch_id text NOT NULL", "canonical_key", [
          "CREATE INDEX batch_codes_batch ON batch_codes (batch_id)",
        ]);
        await rebuildWithoutRowid(
          trx,
          "pack_states",
          "pack text NOT NULL PRIMARY KEY, batch_id text NOT NULL, state text NOT NULL, organization_id integer NOT NULL, changed_at bigint NOT NULL",
          "pack",
          ["CREATE INDEX pack_states_batch ON pack_states (batch_id)"],
        );
      });
    },
  },
};

/**
 * Rebuilds a SQLite table as a table WITHOUT ROWID of the same columns and rows, and its indexes (dropped with the
 * old table). The rows wait in a temporary table, in key order, while the old table is dropped: the new one then
 * takes the old one's pages rather than new ones at the end of the file, where a large store's would lie beyond the
 * 2 GiB SQLite memory-maps (src/store/index.ts), each lookup a read from the file. In key order, each row lands at
 * the end of the new b-tree: the 10,000,000 rows of a large store are appended rather than inserted at random.
 */
async function rebuildWithoutRowid(db: Kysely<unknown>, table: string, columns: string, key: string, indexes: string[]) {
  const names = columns
    .split(", ")
    .map((column) => column.split(" ")[0])
    .join(", ");
  const rows = `temp.${table}_rows`;
  await sql.raw(`CREATE TABLE ${rows} AS SELECT ${names} FROM ${table} ORDER BY ${key}`).execute(db);
  await sql.raw(`DROP TABLE ${table}`).execute(db);
  await sql.raw(`CREATE TABLE ${table} (${columns}) WITHOUT ROWID`).execute(db);
  // The temporary table's rows, in the order they were written (their rowids): the key's.
  await sql.raw(`INSERT INTO ${table} (${names}) SELECT ${names} FROM ${rows} ORDER BY rowid`).execute(db);
  await sql.raw(`DROP TABLE ${rows}`).execute(db);
  for (const index of indexes) await sql.raw(index).execute(db);
}

/**
 * Rows whose signature did not (yet) check out: pending deferred verification, or failed. The scan's query repeats
 * this condition word for word, which is how SQLite knows the partial index applies.
 */
export const UNVERIFIED_SQL = "verification NOT IN ('verified', 'bootstrap')";

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};

/** Derived tables: everything the indexer rebuilds from `ledger_events` after a reorg. */
export const READ_MODEL_TABLES = [
  "organizations",
  "signing_keys",
  "products",
  "agreements",
  "batches",
  "deviations",
  "shipments",
  "holdings",
  "pack_states",
  "recalls",
  "recall_acknowledgements",
  "batch_holds",
  "capas",
  "batch_aggregations",
  "unpacked_units",
  "alert_cases",
  "alert_case_history",
  "suspect_reports",
  "product_risk_classes",
  "responsible_persons",
  "batch_quality_records",
  "quality_reviews",
  "communication_terms",
  "quality_notices",
  "shortage_listings",
  "stop_production_reports",
  "retained_samples",
  "inspections",
  "inspection_recognitions",
  "samplings",
] as const;

/** Registered off-chain against the chain's aggregation and shipment roots: discarded with them for another chain. */
export const REGISTERED_AGGREGATION_TABLES = ["aggregation_units", "shipment_units", "shipment_reconciliations", "shipment_differences"] as const;
