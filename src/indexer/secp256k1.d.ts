// The part of the `secp256k1` package (libsecp256k1's native binding) the indexer uses.
declare module "secp256k1" {
  /** The public key (65 bytes uncompressed) whose key made the 64-byte compact signature `sig` over `msg32`. */
  export function ecdsaRecover(sig: Uint8Array, recid: number, msg32: Uint8Array, compressed?: boolean, output?: Uint8Array): Uint8Array;
  const secp256k1: { ecdsaRecover: typeof ecdsaRecover };
  export default secp256k1;
}
