#!/usr/bin/env node
// The `ediy` executable: runs the compiled CLI. It lives outside dist/ so that npm can link
// it at install time, before a workspace checkout has been built.
try {
  await import('../dist/bin.js');
} catch (err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/bin.js')) {
    console.error(
      'ediy: the CLI is not built yet; run `npm run build` at the repository root first',
    );
    process.exit(1);
  }
  throw err;
}
