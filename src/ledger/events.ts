/** A decoded argument value of a ledger event: integers that fit a number become numbers, larger ones decimal strings. */
export type ArgValue = string | number | boolean | ArgValue[];

/** A ledger event's arguments, flattened: indexed ids, the attested struct's fields, signer(s) and signature(s). */
export type EventArgs = Record<string, ArgValue>;
