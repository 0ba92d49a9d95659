#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (run automatically by `npm ci`).
import('../dist/cli/main.js').catch((e) => {
  if (e && e.code === 'ERR_MODULE_NOT_FOUND') {
    console.error('flatten: error: the CLI is not built yet; run `npm run build` in the package folder');
  } else {
    console.error(`flatten: internal error: ${e && e.message ? e.message : e}`);
  }
  process.exit(1);
});
