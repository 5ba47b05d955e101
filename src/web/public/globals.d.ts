// What the pages load as plain scripts before their modules (see PAGES in src/web/index.ts).

/** zxing's UMD bundle, served at /vendor/zxing.js to the scan page. */
declare var ZXing: typeof import("@zxing/library");
