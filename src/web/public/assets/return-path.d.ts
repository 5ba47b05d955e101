/** `next` as a path on `origin`, or "/" when it would leave it (see return-path.js). */
export function returnPath(next: string | null, origin: string): string;
