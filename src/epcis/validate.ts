import Ajv from "ajv";
import addFormats from "ajv-formats";
import schema from "./schema/EPCIS-JSON-Schema.json";

/**
 * Validation against GS1's official EPCIS 2.0 JSON schema (EPCIS-JSON-Schema.json from github.com/gs1/EPCIS,
 * commit 2b888be, vendored unchanged with its licence beside it), with ajv: no validator of our own.
 */
const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);
const validateSchema = ajv.compile(schema);

/** One reason a document fails the schema: where (a JSON pointer), and the event's index when it is inside one. */
export type SchemaProblem = { path: string; message: string; eventIndex?: number };

const EVENT_PATH = /^\/epcisBody\/eventList\/(\d+)/;

export function validateEpcis(document: unknown): SchemaProblem[] {
  if (validateSchema(document)) return [];
  const seen = new Set<string>();
  // The schema's if/then branches repeat one failure several times: each (place, reason) is said once.
  const errors = (validateSchema.errors ?? []).filter((error) => {
    const key = `${error.instancePath} ${error.message} ${JSON.stringify(error.params)}`;
    return !seen.has(key) && seen.add(key);
  });
  return errors.map((error) => {
    const index = EVENT_PATH.exec(error.instancePath)?.[1];
    return {
      path: error.instancePath || "/",
      message: `${error.message ?? "invalid"}${error.params && "allowedValues" in error.params ? `: ${(error.params.allowedValues as unknown[]).join(", ")}` : ""}`,
      ...(index === undefined ? {} : { eventIndex: Number(index) }),
    };
  });
}
