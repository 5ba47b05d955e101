#!/usr/bin/env node
"use strict";
// Runs the TypeScript sources directly (tsx compiles on the fly with esbuild): no build step to forget.
require("tsx/cjs");
require("../src/cli/main.ts")
  .run(process.argv)
  .then((status) => {
    process.exitCode = status;
  });
