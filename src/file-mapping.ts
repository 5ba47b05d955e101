/**
 * `map(fd, length)` of native/tree-map.c: the file's first `length` bytes mapped read-only and shared (MAP_SHARED),
 * so the Buffer shows what other processes write to the file; undefined where native/ was not built.
 */
export const mapFile = loadFileMapping();

function loadFileMapping(): ((fd: number, length: number) => Buffer) | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require("../native/build/Release/tree_map.node") as { map(fd: number, length: number): Buffer }).map;
  } catch {
    return undefined;
  }
}
