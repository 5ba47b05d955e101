/** Where the API's relay takes signed attestations (apart from wire.ts, so the pages' bundle need not carry zod). */
export const RELAY_PATH = "/v1/attestations";
