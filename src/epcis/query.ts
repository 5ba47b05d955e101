/**
 * The EPCIS 2.0 query interface's event filters (the REST binding's query parameters of SimpleEventQuery), applied
 * to exported events: by business step, disposition, EPC (a pack or a lot class), time, read point and business
 * location. Pure: what the caller may see is decided before, by the API.
 */

export type EventFilters = {
  EQ_bizStep?: string[];
  EQ_disposition?: string[];
  MATCH_epc?: string[];
  MATCH_anyEPC?: string[];
  GE_eventTime?: string;
  LT_eventTime?: string;
  EQ_readPoint?: string[];
  EQ_bizLocation?: string[];
  EQ_action?: string[];
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ExportedEvent = Record<string, any>;

/** CBV values are compared by their bare name, whether written bare, as a URN or as a GS1 web URI. */
const bare = (value: unknown) =>
  String(value ?? "")
    .replace(/^urn:epcglobal:cbv:(bizstep|disp):/, "")
    .replace(/^https:\/\/ref\.gs1\.org\/cbv\/(BizStep|Disp)-/, "");

/** The EPCs an event is about: its packs and the lots its quantities name. */
function epcsOf(event: ExportedEvent): string[] {
  return [...(event.epcList ?? []), ...(event.quantityList ?? []).map((q: { epcClass: string }) => q.epcClass), ...(event.childEPCs ?? [])];
}

const inList = (list: string[] | undefined, value: string) => list === undefined || list.some((wanted) => bare(wanted) === bare(value));

export function matchesFilters(event: ExportedEvent, filters: EventFilters): boolean {
  const time = Date.parse(event.eventTime);
  const epcs = epcsOf(event);
  const matchesEpc = (list: string[] | undefined) => list === undefined || list.some((wanted) => epcs.includes(wanted));
  return (
    inList(filters.EQ_bizStep, event.bizStep) &&
    inList(filters.EQ_disposition, event.disposition) &&
    inList(filters.EQ_action, event.action) &&
    matchesEpc(filters.MATCH_epc) &&
    matchesEpc(filters.MATCH_anyEPC) &&
    (filters.GE_eventTime === undefined || time >= Date.parse(filters.GE_eventTime)) &&
    (filters.LT_eventTime === undefined || time < Date.parse(filters.LT_eventTime)) &&
    (filters.EQ_readPoint === undefined || filters.EQ_readPoint.includes(event.readPoint?.id)) &&
    (filters.EQ_bizLocation === undefined || filters.EQ_bizLocation.includes(event.bizLocation?.id))
  );
}

/**
 * Whether an organization may query a ledger event (the scope of GET /epcis/events, which its SQL repeats):
 * regulators every batch's, an MAH its products' batches', a CMO the batches it made, anyone else the events it
 * attested itself.
 */
export function mayQuery(
  caller: { organizationId: number; role: string },
  batch: { mah_id: number; cmo_id: number },
  event: { organization_id: number | null },
): boolean {
  if (caller.role === "REGULATOR") return true;
  if (caller.role === "MAH") return batch.mah_id === caller.organizationId;
  if (caller.role === "CMO") return batch.cmo_id === caller.organizationId;
  return event.organization_id === caller.organizationId;
}
