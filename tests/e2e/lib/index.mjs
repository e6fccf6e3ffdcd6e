// Everything the e2e tests share; import from './lib/index.mjs'.
export * from './paths.mjs';
export * from './process.mjs';
export * from './ports.mjs';
export * from './mcp-client.mjs';
export * from './demo.mjs';
export * from './everything.mjs';
export * from './holdgate.mjs';
export * from './baseline.mjs';
export * from './conformance.mjs';
