/**
 * Every GS1 Application Identifier with the shape of its value, from the GS1 Barcode Syntax Dictionary (the
 * authority the GS1 Barcode Syntax Engine reads; component linters and pairing rules left out). A line is
 * `AI[-LAST] [*] COMPONENT…`: `*` marks the AIs of predefined length that need no FNC1 after them (GS1 General
 * Specifications 7.8.5); a component is a character set (N digits, X CSET 82, Y CSET 39, Z CSET 64) and a length,
 * fixed (`N6`) or up to a maximum (`X..20`), in brackets when it may be left off at the end.
 *
 * The ledger reads 00, 01, 10, 11, 17 and 21 (see gs1.ts); any other AI in this table is read by this shape,
 * checked, reported as ignored and otherwise left alone. An AI not in this table cannot be delimited, so it is
 * refused.
 */
const DICTIONARY = `
00 * N18
01 * N14
02 * N14
10 X..20
11 * N6
12 * N6
13 * N6
15 * N6
16 * N6
17 * N6
20 * N2
21 X..20
22 X..20
235 X..28
240 X..30
241 X..30
242 N..6
243 X..20
250 X..30
251 X..30
253 N13 [X..17]
254 X..20
255 N13 [N..12]
30 N..8
3100-3105 * N6
3110-3115 * N6
3120-3125 * N6
3130-3135 * N6
3140-3145 * N6
3150-3155 * N6
3160-3165 * N6
3200-3205 * N6
3210-3215 * N6
3220-3225 * N6
3230-3235 * N6
3240-3245 * N6
3250-3255 * N6
3260-3265 * N6
3270-3275 * N6
3280-3285 * N6
3290-3295 * N6
3300-3305 * N6
3310-3315 * N6
3320-3325 * N6
3330-3335 * N6
3340-3345 * N6
3350-3355 * N6
3360-3365 * N6
3370-3375 * N6
3400-3405 * N6
3410-3415 * N6
3420-3425 * N6
3430-3435 * N6
3440-3445 * N6
3450-3455 * N6
3460-3465 * N6
3470-3475 * N6
3480-3485 * N6
3490-3495 * N6
3500-3505 * N6
3510-3515 * N6
3520-3525 * N6
3530-3535 * N6
3540-3545 * N6
3550-3555 * N6
3560-3565 * N6
3570-3575 * N6
3600-3605 * N6
3610-3615 * N6
3620-3625 * N6
3630-3635 * N6
3640-3645 * N6
3650-3655 * N6
3660-3665 * N6
3670-3675 * N6
3680-3685 * N6
3690-3695 * N6
37 N..8
3900-3909 N..15
3910-3919 N3 N..15
3920-3929 N..15
3930-3939 N3 N..15
3940-3943 N4
3950-3955 N6
400 X..30
401 X..30
402 N17
403 X..30
410 * N13
411 * N13
412 * N13
413 * N13
414 * N13
415 * N13
416 * N13
417 * N13
420 X..20
421 N3 X..9
422 N3
423 N..15
424 N3
425 N..15
426 N3
427 X..3
4300-4301 X..35
4302-4306 X..70
4307 X2
4308 X..30
4309 N10 N10
4310-4311 X..35
4312-4316 X..70
4317 X2
4318 X..20
4319 X..30
4320 X..35
4321-4323 N1
4324-4325 N6 N4
4326 N6
4330-4333 N6 [X1]
7001 N13
7002 X..30
7003 N6 N4
7004 N..4
7005 X..12
7006 N6
7007 N6 [N6]
7008 X..3
7009 X..10
7010 X..2
7011 N6 [N4]
7020-7022 X..20
7023 X..30
7030-7039 N3 X..27
7040 N1 X1 X1 X1
710-715 X..20
7230-7239 X2 X..28
7240 X..20
7241 N2
7242 X..25
8001 N4 N5 N3 N1 N1
8002 X..20
8003 N1 N13 [X..16]
8004 X..30
8005 N6
8006 N14 N4
8007 X..34
8008 N8 [N..4]
8009 X..50
8010 Y..30
8011 N..12
8012 X..20
8013 X..25
8017-8018 N18
8019 N..10
8020 X..25
8026 N14 N4
8030 Z..90
8110 X..70
8111 N4
8112 X..70
8200 X..70
90 X..30
91-99 X..90
`;

/** One part of an AI's value: its character set and length. */
export type AiComponent = { charset: "N" | "X" | "Y" | "Z"; min: number; max: number; optional: boolean };

export type AiShape = {
  /** Predefined length (GS1 General Specifications figure 7.8.5-2): no FNC1 needed after the value. */
  predefined: boolean;
  components: AiComponent[];
  /** The value's shortest and longest lengths, components added up. */
  min: number;
  max: number;
};

function component(text: string): AiComponent {
  const optional = text.startsWith("[");
  const match = /^\[?([NXYZ])(\.\.)?(\d+)\]?$/.exec(text);
  if (!match) throw new Error(`AI table: bad component ${text}`);
  const length = Number(match[3]);
  return { charset: match[1] as AiComponent["charset"], min: match[2] ? 1 : length, max: length, optional };
}

function shapeOf(flagAndComponents: string[]): AiShape {
  const predefined = flagAndComponents[0] === "*";
  const components = flagAndComponents.slice(predefined ? 1 : 0).map(component);
  const min = components.reduce((sum, c) => sum + (c.optional ? 0 : c.min), 0);
  const max = components.reduce((sum, c) => sum + c.max, 0);
  return { predefined, components, min, max };
}

function expand(range: string): string[] {
  const [first, last = first] = range.split("-") as [string, string?];
  const ais: string[] = [];
  for (let n = Number(first); n <= Number(last); n++) ais.push(String(n).padStart(first.length, "0"));
  return ais;
}

const AI_TABLE: ReadonlyMap<string, AiShape> = new Map(
  DICTIONARY.trim()
    .split("\n")
    .flatMap((line) => {
      const [range, ...rest] = line.trim().split(/\s+/) as [string, ...string[]];
      const shape = shapeOf(rest);
      return expand(range).map((ai) => [ai, shape] as const);
    }),
);

/** The shape of an AI's value, or undefined for an AI GS1 has not defined. */
export function aiShape(ai: string): AiShape | undefined {
  return AI_TABLE.get(ai);
}

/**
 * The AI that starts at `position`: AIs are two to four digits and none is the start of another, so at most one
 * of the 2-, 3- and 4-digit readings is defined. Undefined when none is.
 */
export function aiAt(text: string, position: number): string | undefined {
  for (let length = 2; length <= 4; length++) {
    const ai = text.slice(position, position + length);
    if (ai.length === length && AI_TABLE.has(ai)) return ai;
  }
  return undefined;
}
