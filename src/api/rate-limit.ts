import { isIPv6 } from "node:net";
import type { IncomingMessage, ServerResponse } from "node:http";
import ipaddr from "ipaddr.js";
import { RELAY_PATH } from "../ledger/relay-path";

/** The public endpoints whose anonymous requests count against the limit: these paths and everything under them. */
export const PUBLIC_LIMITED_PATHS = ["/v1/scans", "/v1/auth", "/v1/organizations", RELAY_PATH];

/**
 * Whether a request to `path` counts against the public rate limit, as express matches a mount path: by whole
 * segments, whatever their case.
 */
export function isPublicLimitedPath(path: string): boolean {
  const lower = path.toLowerCase();
  return PUBLIC_LIMITED_PATHS.some((limited) => lower === limited || lower.startsWith(`${limited}/`));
}

/** Where a client stands in its window, as the headers tell it. */
export type RateLimitInfo = { limit: number; remaining: number; resetSeconds: number; limited: boolean };

/**
 * Anonymous requests per client address in fixed windows held in memory: a client's window opens with its first
 * request and lasts `windowMs`; the request after the `limit`-th in it is refused until it closes. These are the
 * semantics (and the headers) of express-rate-limit's memory store, which the API used before, at a map lookup and
 * an increment per request. Clients not seen for a whole window are forgotten, two windows' worth of maps at most.
 */
export function createRateLimiter(options: { limit: number; windowMs: number; now?: () => number }) {
  const { limit, windowMs } = options;
  const now = options.now ?? Date.now;
  let current = new Map<string, { hits: number; resetAt: number }>();
  let previous = new Map<string, { hits: number; resetAt: number }>();
  let rotateAt = now() + windowMs;
  const policy = `${limit};w=${Math.ceil(windowMs / 1000)}`;
  return {
    /** Counts one request of the client at `address` and says whether it is over the limit. */
    take(address: string | undefined): RateLimitInfo {
      const at = now();
      if (at >= rotateAt) {
        previous = current;
        current = new Map();
        rotateAt = at + windowMs;
      }
      const key = clientKey(address);
      let client = current.get(key);
      if (!client) {
        client = previous.get(key) ?? { hits: 0, resetAt: at + windowMs };
        previous.delete(key);
        current.set(key, client);
      }
      if (client.resetAt <= at) {
        client.hits = 0;
        client.resetAt = at + windowMs;
      }
      client.hits++;
      return {
        limit,
        remaining: Math.max(limit - client.hits, 0),
        resetSeconds: Math.max(0, Math.ceil((client.resetAt - at) / 1000)),
        limited: client.hits > limit,
      };
    },
    /** The IETF draft-7 RateLimit headers (and Retry-After when limited), as names and values in turn. */
    headers(info: RateLimitInfo): string[] {
      const headers = ["RateLimit-Policy", policy, "RateLimit", `limit=${info.limit}, remaining=${info.remaining}, reset=${info.resetSeconds}`];
      if (info.limited) headers.push("Retry-After", String(info.resetSeconds));
      return headers;
    },
    /** Sets the `headers` on `res`. */
    setHeaders(res: ServerResponse, info: RateLimitInfo) {
      const headers = this.headers(info);
      for (let i = 0; i < headers.length; i += 2) res.setHeader(headers[i]!, headers[i + 1]!);
    },
  };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;

/** The client a request comes from: its socket's address (the API trusts no proxy header). */
export const clientAddress = (req: IncomingMessage) => req.socket.remoteAddress;

/**
 * One key per client: an IPv4 address, an IPv4 address mapped into IPv6 as that IPv4 address, and an IPv6 address
 * as its /56 network, which one subscriber usually holds whole (so a client cannot escape by changing addresses).
 */
function clientKey(address: string | undefined): string {
  if (address === undefined) return "unknown";
  // An IPv4 address has no colon: it skips isIPv6's long regular expression, a microsecond a request.
  if (!address.includes(":") || !isIPv6(address)) return address;
  const ipv6 = ipaddr.IPv6.parse(address);
  if (ipv6.isIPv4MappedAddress()) return ipv6.toIPv4Address().toString();
  const parts = ipv6.parts.slice(0, 4);
  parts[3] = parts[3]! & 0xff00;
  return `${new ipaddr.IPv6([...parts, 0, 0, 0, 0]).toNormalizedString()}/56`;
}
