import type { Request, Response, NextFunction } from "express";
import bwipjs from "bwip-js";
import { CodeError, formatCode, GROUP_SEPARATOR, MAX_CODE_LENGTH, parseCode } from "../codes";
import type { TraceCode } from "../codes";
import { badInput } from "../ledger/errors";

export const LABEL_PATH = "/labels/datamatrix.svg";

/**
 * What a pack's label encodes, as bwip-js options, and the text printed under it: GS1 codes as a GS1 DataMatrix
 * (FNC1 first, FNC1 as the separator after variable-length fields, exactly the element string a scanner sends
 * back); NMPA codes as a plain DataMatrix of the 20 digits.
 */
export function labelSymbol(code: TraceCode): { options: RenderOptions; text: string } {
  const size = { scale: 4, paddingwidth: 2, paddingheight: 2 };
  if (code.scheme === "nmpa") return { options: { bcid: "datamatrix", text: code.nmpa, ...size }, text: code.nmpa };
  const elements = formatCode(code, "element-string", { symbologyId: "" });
  return {
    options: { bcid: "datamatrix", text: `^FNC1${elements.split(GROUP_SEPARATOR).join("^FNC1")}`, parsefnc: true, ...size },
    text: formatCode(code, "hri"),
  };
}

type RenderOptions = Parameters<typeof bwipjs.toSVG>[0];

/** GET /labels/datamatrix.svg?code=…: the label's symbol as SVG; its human-readable text in `X-Label-Text`. */
export function labelHandler(req: Request, res: Response, next: NextFunction) {
  const text = typeof req.query.code === "string" ? req.query.code : "";
  if (text.length === 0 || text.length > MAX_CODE_LENGTH) {
    next(badInput("INVALID_INPUT", `code: give the pack's code (1 to ${MAX_CODE_LENGTH} characters) in ?code=`, "code"));
    return;
  }
  let code: TraceCode;
  try {
    code = parseCode(text);
  } catch (error) {
    next(error instanceof CodeError ? badInput(error.code, error.message, "code") : error);
    return;
  }
  const label = labelSymbol(code);
  res.set("x-label-text", encodeURIComponent(label.text)).type("image/svg+xml").send(bwipjs.toSVG(label.options));
}
