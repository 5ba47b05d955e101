import { writeFileSync } from "node:fs";
import bwipjs from "bwip-js";
import type { TraceCode } from "../../src/codes";
import { labelSymbol } from "../../src/web/labels";

const WIDTH = 640;
const HEIGHT = 480;
const MODULE_PIXELS = 10;

/**
 * A one-frame Y4M video of a pack's label, for chromium's --use-file-for-fake-video-capture: the camera the scan
 * page opens then films the label, as a phone held over a pack would.
 */
export function writeCameraFeed(file: string, code: TraceCode) {
  const [symbol] = bwipjs.raw(labelSymbol(code).options) as Array<{ pixs: number[]; pixx: number; pixy: number }>;
  const { pixs, pixx, pixy } = symbol!;
  const luma = Buffer.alloc(WIDTH * HEIGHT, 235);
  const left = Math.floor((WIDTH - pixx * MODULE_PIXELS) / 2);
  const top = Math.floor((HEIGHT - pixy * MODULE_PIXELS) / 2);
  for (let y = 0; y < pixy * MODULE_PIXELS; y++) {
    for (let x = 0; x < pixx * MODULE_PIXELS; x++) {
      if (pixs[Math.floor(y / MODULE_PIXELS) * pixx + Math.floor(x / MODULE_PIXELS)]) luma[(top + y) * WIDTH + left + x] = 16;
    }
  }
  const chroma = Buffer.alloc((WIDTH / 2) * (HEIGHT / 2), 128);
  const header = Buffer.from(`YUV4MPEG2 W${WIDTH} H${HEIGHT} F10:1 Ip A1:1 C420jpeg\nFRAME\n`);
  writeFileSync(file, Buffer.concat([header, luma, chroma, chroma]));
}
