// Where things are: the repository, the build directory (HOLDGATE_BUILD_DIR, default build/), the
// binaries under test and the npm-installed peers (server-everything, conformance, Node 22).
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const E2E_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = resolve(E2E_DIR, '../..');

const buildDirEnv = process.env.HOLDGATE_BUILD_DIR;
export const BUILD_DIR = buildDirEnv
  ? (isAbsolute(buildDirEnv) ? buildDirEnv : resolve(REPO_ROOT, buildDirEnv))
  : join(REPO_ROOT, 'build');

export const HOLDGATE_BIN = join(BUILD_DIR, 'holdgate');
export const DEMO_UPSTREAM_BIN = join(BUILD_DIR, 'holdgate-demo-upstream');

export const OUTPUT_DIR = join(E2E_DIR, 'output');
export const BIND_LOCALHOST_CJS = join(E2E_DIR, 'lib', 'bind-localhost.cjs');
export const NODE22_BIN = join(E2E_DIR, 'node_modules', 'node', 'bin', 'node');
export const EVERYTHING_JS = join(E2E_DIR, 'node_modules', '@modelcontextprotocol', 'server-everything', 'dist', 'index.js');
export const CONFORMANCE_JS = join(E2E_DIR, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
// conformance 0.2.0-alpha.12 (installed as the npm alias conformance-next): 2026-07-28 requirement sets.
export const CONFORMANCE_NEXT_JS = join(E2E_DIR, 'node_modules', 'conformance-next', 'dist', 'index.js');
export const DEMO_POLICY = join(REPO_ROOT, 'schema', 'policies', 'demo.json');
