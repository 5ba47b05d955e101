// @ts-check
// Where a page may send the browser back to after sign-in. Kept apart from sign-in.js (which needs the browser's
// ethers bundle) so the rule is tested on its own as well as in the page.

/**
 * `next` as a path on `origin`, or "/" when it would leave it. Resolved the way the browser will resolve it, so
 * forms a prefix check misses (`/\host`, `/<tab>/host`, `//host`, `javascript:`) are judged by where they land.
 * @param {string | null} next
 * @param {string} origin
 * @returns {string}
 */
export function returnPath(next, origin) {
  if (!next) return "/";
  let target;
  try {
    target = new URL(next, origin);
  } catch {
    return "/";
  }
  return target.origin === origin ? target.pathname + target.search + target.hash : "/";
}
