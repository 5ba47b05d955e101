import { mkdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import { chunkRows } from "../store";
import type { Store } from "../store";
import { CodeError, openTree, parseCode, writeTree } from "../codes";
import type { StoredTree, TraceCode } from "../codes";
import { ApiError, badRequest } from "./errors";

/**
 * The off-chain half of a batch's codes: which batch each canonical code belongs to and the stored Merkle tree
 * that answers proofs. The chain holds only the root; registration is refused unless the codes hash to it.
 */
export type CodeBook = {
  register(request: { batchId: string; codes: string[]; by: number; now: number }): Promise<{ root: string; count: number }>;
  proof(batchId: string, canonicalKey: string): Promise<string[] | undefined>;
  close(): void;
};

const MAX_OPEN_TREES = 64;

export function createCodeBook(store: Store, dataDir: string): CodeBook {
  const open = new Map<string, StoredTree>();

  async function treeOf(batchId: string) {
    const cached = open.get(batchId);
    if (cached) return cached;
    const row = await store.db.selectFrom("code_trees").select("tree_path").where("batch_id", "=", batchId).executeTakeFirst();
    if (!row) return undefined;
    if (open.size >= MAX_OPEN_TREES) {
      const [oldest, tree] = open.entries().next().value as [string, StoredTree];
      tree.close();
      open.delete(oldest);
    }
    const tree = openTree(row.tree_path);
    open.set(batchId, tree);
    return tree;
  }

  return {
    async register({ batchId, codes, by, now }) {
      const batch = await store.db
        .selectFrom("batches")
        .innerJoin("products", "products.id", "batches.product_id")
        .select(["batches.codes_root", "batches.quantity", "products.product_code"])
        .where("batches.id", "=", batchId)
        .executeTakeFirst();
      if (!batch) throw new ApiError(404, "UNKNOWN_BATCH", `no batch ${batchId} is on the ledger`);
      const registered = await store.db.selectFrom("code_trees").select("batch_id").where("batch_id", "=", batchId).executeTakeFirst();
      if (registered) throw new ApiError(409, "CODES_ALREADY_REGISTERED", `batch ${batchId} already has its codes registered`);
      const keys = codes.map((text, i) => canonicalKeyOf(text, batch.product_code, i));
      const treePath = path.join(dataDir, "trees", `${batchId}.tree`);
      await mkdir(path.dirname(treePath), { recursive: true });
      const pending = `${treePath}.registering`;
      const summary = await writeTree(pending, keys).catch((error: unknown) => {
        if (error instanceof CodeError) throw badRequest(error.code, error.message, "codes");
        throw error;
      });
      if (summary.root !== batch.codes_root) {
        await rm(pending, { force: true });
        throw new ApiError(422, "CODES_ROOT_MISMATCH", `these ${keys.length} codes hash to ${summary.root}, but batch ${batchId} committed ${batch.codes_root}`);
      }
      await rename(pending, treePath);
      await store.db.transaction().execute(async (trx) => {
        for (const chunk of chunkRows(keys.map((key) => ({ canonical_key: key, batch_id: batchId })))) {
          await trx.insertInto("batch_codes").values(chunk).execute();
        }
        await trx
          .insertInto("code_trees")
          .values({ batch_id: batchId, root: summary.root, code_count: keys.length, tree_path: treePath, registered_by: by, registered_at: now })
          .execute();
      });
      return { root: summary.root, count: keys.length };
    },
    async proof(batchId, canonicalKey) {
      const tree = await treeOf(batchId);
      return tree?.has(canonicalKey) ? tree.proof(canonicalKey) : undefined;
    },
    close() {
      for (const tree of open.values()) tree.close();
      open.clear();
    },
  };
}

/** Parses one code of a batch being registered; the product must be the batch's. */
function canonicalKeyOf(text: string, productCode: string, index: number): string {
  let code: TraceCode;
  try {
    code = parseCode(text);
  } catch (error) {
    if (error instanceof CodeError) throw badRequest(error.code, `codes[${index}]: ${error.message}`, `codes.${index}`);
    throw error;
  }
  if (code.kind !== "pack") throw badRequest("CODE_NOT_A_PACK", `codes[${index}] is a logistic unit, not a pack`, `codes.${index}`);
  if (code.productCode !== productCode) {
    throw badRequest("CODE_PRODUCT_MISMATCH", `codes[${index}] is of product ${code.productCode}, the batch is of ${productCode}`, `codes.${index}`);
  }
  return code.key;
}
