import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { CodeError } from "./errors";
import { packId } from "./leaf";
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

/**
 * A batch's cases and pallets as committed on-chain (AggregationLedger): an OpenZeppelin standard Merkle tree whose
 * leaves are the pairs (containerId, unitId) — "this unit is directly inside this container" — with ids
 * keccak256(abi.encode(key)) as for packs. One tree per batch proves both a case's membership in the batch and a
 * pack's in its case, and a multiproof of pairs with one container is what an unpacking takes.
 */
export type AggregationTree = {
  root: string;
  /** Cases and pallets. */
  containers: number;
  /** Packs inside them (a pack is in one case at most). */
  packs: number;
  /** Proof of one (container, unit) pair. */
  proof(container: string, unit: string): string[];
  /** Multiproof of units directly inside one container, with the unit ids in the order the contract takes them. */
  multiProof(container: string, units: string[]): { units: string[]; proof: string[]; proofFlags: boolean[] };
};

export function aggregationTree(aggregates: Aggregate[]): AggregationTree {
  if (aggregates.length === 0) throw new CodeError("CODE_EMPTY_CONTAINER", "no case or pallet is listed", { field: "00" });
  // Checks the hierarchy: one container per unit, no cycle, no container filled twice.
  createHierarchy(aggregates);
  const pairs = aggregates.flatMap(({ container, contents }) => contents.map((unit) => [packId(container), packId(unit)] as [string, string]));
  const tree = StandardMerkleTree.of(pairs, ["bytes32", "bytes32"]);
  const indexOf = new Map(pairs.map(([c, u], i) => [`${c}|${u}`, i]));
  const position = (container: string, unit: string) => {
    const index = indexOf.get(`${packId(container)}|${packId(unit)}`);
    if (index === undefined) throw new CodeError("CODE_NOT_IN_CONTAINER", `${unit} is not directly inside ${container}`, { field: "00" });
    return index;
  };
  const isContainer = new Set(aggregates.map((a) => a.container));
  const packs = new Set(aggregates.flatMap((a) => a.contents).filter((key) => !isContainer.has(key))).size;
  return {
    root: tree.root,
    containers: aggregates.length,
    packs,
    proof: (container, unit) => tree.getProof(position(container, unit)),
    multiProof(container, units) {
      const proof = tree.getMultiProof(units.map((unit) => position(container, unit)));
      return { units: proof.leaves.map(([, unit]) => unit as string), proof: proof.proof, proofFlags: proof.proofFlags };
    },
  };
}
