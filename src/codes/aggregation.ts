import { CodeError } from "./errors";
import { buildCodeTree, type CodeTree } from "./merkle";
import type { TraceCode } from "./types";

/**
 * A case or pallet (identified by its SSCC) and what it directly contains: packs, or other cases. Its contents
 * are committed like a batch, by the root of a Merkle tree over their canonical keys, so a scan of the case can
 * be answered with a proof that a given pack is inside it.
 */
export type Aggregate = { container: string; contents: string[]; contentsRoot: string };

export async function aggregate(container: TraceCode, contents: TraceCode[]): Promise<{ aggregate: Aggregate; tree: CodeTree }> {
  if (container.kind !== "logistic-unit") {
    throw new CodeError("CODE_NOT_A_CONTAINER", `${container.key} is a pack; only an SSCC-labelled case or pallet contains others`, { field: "00" });
  }
  if (contents.length === 0) throw new CodeError("CODE_EMPTY_CONTAINER", `${container.key} contains nothing`, { field: "00" });
  if (contents.some((code) => code.key === container.key)) {
    throw new CodeError("CODE_AGGREGATION_CYCLE", `${container.key} cannot contain itself`, { field: "00" });
  }
  const keys = contents.map((code) => code.key);
  const tree = await buildCodeTree(keys);
  return { aggregate: { container: container.key, contents: keys, contentsRoot: tree.root }, tree };
}

/** Who contains whom, across pallets → cases → packs; a unit sits in at most one container at a time. */
export type Hierarchy = {
  add(aggregate: Aggregate): void;
  parentOf(key: string): string | undefined;
  /** The packs a unit stands for: itself if it is a pack, else every pack below it. */
  packsOf(key: string): string[];
  /** Shipping cases means shipping their packs: the packs of all units, each exactly once. */
  expandShipment(keys: string[]): string[];
};

export function createHierarchy(aggregates: Aggregate[] = []): Hierarchy {
  const children = new Map<string, string[]>();
  const parents = new Map<string, string>();

  function isAncestorOrSelf(candidate: string, of: string): boolean {
    for (let unit: string | undefined = of; unit !== undefined; unit = parents.get(unit)) if (unit === candidate) return true;
    return false;
  }

  function add({ container, contents }: Aggregate): void {
    if (children.has(container)) throw new CodeError("CODE_ALREADY_AGGREGATED", `${container} already has recorded contents`, { field: "00" });
    for (const key of contents) {
      const parent = parents.get(key);
      if (parent !== undefined) throw new CodeError("CODE_ALREADY_AGGREGATED", `${key} is already inside ${parent}`);
      if (isAncestorOrSelf(key, container))
        throw new CodeError("CODE_AGGREGATION_CYCLE", `${container} would end up inside ${key}, which it contains`);
    }
    children.set(container, [...contents]);
    for (const key of contents) parents.set(key, container);
  }

  function packsOf(key: string): string[] {
    const contents = children.get(key);
    if (contents === undefined) {
      if (key.startsWith("(00)")) throw new CodeError("CODE_EMPTY_CONTAINER", `${key} has no recorded contents`, { field: "00" });
      return [key];
    }
    return contents.flatMap(packsOf);
  }

  function expandShipment(keys: string[]): string[] {
    const packs = keys.flatMap(packsOf);
    const seen = new Set<string>();
    for (const pack of packs) {
      if (seen.has(pack)) throw new CodeError("CODE_DUPLICATE", `${pack} is shipped twice (alone and inside a case, or in two listed units)`);
      seen.add(pack);
    }
    return packs;
  }

  for (const existing of aggregates) add(existing);
  return { add, parentOf: (key) => parents.get(key), packsOf, expandShipment };
}
