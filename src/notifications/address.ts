import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";
import type { LookupFunction } from "node:net";
import ipaddr from "ipaddr.js";

/** The stable code of a webhook URL refused because it points into a private network. */
export const NOT_PUBLIC = "WEBHOOK_URL_NOT_PUBLIC";

/**
 * Addresses a webhook must not reach unless the deployment opts in: loopback, link-local (cloud metadata answers on
 * 169.254.169.254), private, carrier-grade NAT, "this network", multicast and reserved ranges. IPv6 forms that
 * carry an IPv4 address are judged by that address too (see embeddedIpv4s).
 */
const PRIVATE_RANGES: [string, number, "ipv4" | "ipv6"][] = [
  ["0.0.0.0", 8, "ipv4"],
  ["10.0.0.0", 8, "ipv4"],
  ["100.64.0.0", 10, "ipv4"],
  ["127.0.0.0", 8, "ipv4"],
  ["169.254.0.0", 16, "ipv4"],
  ["172.16.0.0", 12, "ipv4"],
  ["192.0.0.0", 24, "ipv4"],
  ["192.168.0.0", 16, "ipv4"],
  ["198.18.0.0", 15, "ipv4"],
  ["224.0.0.0", 3, "ipv4"],
  // Unspecified, loopback and the deprecated IPv4-compatible addresses.
  ["::", 96, "ipv6"],
  ["fc00::", 7, "ipv6"],
  ["fe80::", 10, "ipv6"],
  ["fec0::", 10, "ipv6"],
  ["ff00::", 8, "ipv6"],
  // NAT64 for local use (RFC 8215): its IPv4 address may sit anywhere in the address, and it is local by definition.
  ["64:ff9b:1::", 48, "ipv6"],
];

const privateRanges = new BlockList();
for (const [network, prefix, family] of PRIVATE_RANGES) privateRanges.addSubnet(network, prefix, family);

/** Whether `address` (an IPv4 or IPv6 literal, IPv6 without brackets) lies in a loopback, link-local or private range. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) throw new Error(`${address} is not an IP address`);
  if (family === 4) return privateRanges.check(address, "ipv4");
  if (privateRanges.check(address, "ipv6")) return true;
  return embeddedIpv4s(address).some((ipv4) => privateRanges.check(ipv4, "ipv4"));
}

/**
 * The IPv4 addresses an IPv6 address carries, which the network delivers to (or through): IPv4-mapped
 * (::ffff:0:0/96), IPv4-translated (::ffff:0:0:0/96) and NAT64 (64:ff9b::/96) in the last 32 bits; 6to4
 * (2002::/16) in bits 16-47; Teredo (2001::/32) its server in bits 32-63 and its client in the last 32 bits,
 * inverted. ipaddr.js parses the address and names its range.
 */
function embeddedIpv4s(address: string): string[] {
  const ipv6 = ipaddr.IPv6.parse(address);
  const words = ipv6.parts;
  const ipv4 = (high: number, low: number) => new ipaddr.IPv4([high >> 8, high & 255, low >> 8, low & 255]).toString();
  switch (ipv6.range()) {
    case "ipv4Mapped":
    case "rfc6145":
    case "rfc6052":
      return [ipv4(words[6]!, words[7]!)];
    case "6to4":
      return [ipv4(words[1]!, words[2]!)];
    case "teredo":
      return [ipv4(words[2]!, words[3]!), ipv4(words[6]! ^ 0xffff, words[7]! ^ 0xffff)];
    default:
      return [];
  }
}

/** The host of a URL as DNS or the socket layer wants it: no IPv6 brackets, no trailing root dot, lower case. */
export function urlHost(url: URL): string {
  return url.hostname
    .replace(/^\[(.*)\]$/, "$1")
    .replace(/\.$/, "")
    .toLowerCase();
}

/**
 * Why a webhook URL is refused by its literal host alone (before any DNS), or null: an IP literal in a private
 * range, or a name that always means this machine (localhost and *.localhost, RFC 6761).
 */
export function literalHostRefusal(url: URL): string | null {
  const host = urlHost(url);
  if (host === "localhost" || host.endsWith(".localhost")) return `${url.hostname} names this machine`;
  if (isIP(host) && isPrivateAddress(host)) return `${url.hostname} is a loopback, link-local or private address`;
  return null;
}

export type ResolvedAddress = { address: string; family: number };
/** Every address a host name resolves to (node:dns lookup with `all`; injectable for tests). */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = (hostname) => lookup(hostname, { all: true });

/** A refusal to deliver to a host: recorded as the attempt's error, retried with the normal backoff. */
export class NotPublicError extends Error {
  readonly code = NOT_PUBLIC;
}

/**
 * Resolves the host of a webhook URL once and checks every address; returns a `lookup` for the request that answers
 * with exactly those addresses, so the connection goes where the check looked (a DNS answer that changes between
 * the check and the connection — DNS rebinding — is never consulted). Throws NotPublicError when the guard is on
 * and the literal host or any of its addresses is private.
 */
export async function pinnedLookup(url: URL, options: { allowPrivateAddresses: boolean; resolve: Resolver }): Promise<LookupFunction> {
  const host = urlHost(url);
  if (!options.allowPrivateAddresses) {
    const refusal = literalHostRefusal(url);
    if (refusal) throw new NotPublicError(`${NOT_PUBLIC}: ${refusal}`);
  }
  const family = isIP(host);
  const addresses = family ? [{ address: host, family }] : await options.resolve(host);
  if (addresses.length === 0) throw Object.assign(new Error(`${host} has no address`), { code: "ENOTFOUND" });
  if (!options.allowPrivateAddresses) {
    const inside = addresses.filter((a) => isPrivateAddress(a.address));
    if (inside.length > 0) {
      throw new NotPublicError(
        `${NOT_PUBLIC}: ${host} resolves to ${inside.map((a) => a.address).join(", ")}, a loopback, link-local or private address`,
      );
    }
  }
  return (_hostname, lookupOptions, callback) => {
    const wanted = lookupOptions.family === 4 || lookupOptions.family === 6 ? addresses.filter((a) => a.family === lookupOptions.family) : addresses;
    if (wanted.length === 0) callback(Object.assign(new Error(`${host} has no IPv${lookupOptions.family} address`), { code: "ENOTFOUND" }), "");
    else if (lookupOptions.all) callback(null, wanted);
    else callback(null, wanted[0]!.address, wanted[0]!.family);
  };
}
