// Headless Debian Chromium (/usr/bin/chromium) driven by playwright-core: no browser download.
// launchChromium() starts it with a fresh profile directory and the flags this machine needs
// (no sandbox as root, no GPU, no background networking towards the closed internet).
// Page helpers collect console errors and Content-Security-Policy violations, so a test can
// assert that the page ran nothing the CSP had to block.
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM_BIN = process.env.HOLDGATE_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = Object.freeze([
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
]);

export function assertChromiumInstalled() {
  if (!fs.existsSync(CHROMIUM_BIN)) {
    throw new Error(`${CHROMIUM_BIN} is missing: install Debian's chromium (scripts/deps.sh)`);
  }
}

// Starts Chromium with a new empty profile under `outDir`. Returns the persistent
// BrowserContext (each newPage() has its own sessionStorage); close() removes the profile.
export async function launchChromium(outDir, { viewport = { width: 1440, height: 900 }, colorScheme = 'light' } = {}) {
  assertChromiumInstalled();
  const userDataDir = fs.mkdtempSync(path.join(outDir, 'chromium-profile-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_BIN,
    headless: true,
    args: [...CHROMIUM_ARGS],
    viewport,
    colorScheme,
    acceptDownloads: true,
    timeout: 30000,
  });
  const close = async () => {
    await context.close().catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
  };
  return { context, close };
}

// A new tab with console errors, page errors and CSP violations recorded in `page.problems`.
export async function newWatchedPage(context) {
  const page = await context.newPage();
  page.problems = [];
  page.on('console', (msg) => {
    const text = msg.text();
    if (msg.type() === 'error' || /Content Security Policy/i.test(text)) page.problems.push(`console.${msg.type()}: ${text}`);
  });
  page.on('pageerror', (err) => page.problems.push(`pageerror: ${err.message}`));
  return page;
}

// The problems worth failing a test for: CSP violations and uncaught script errors. (Expected
// HTTP errors the page handles, such as a 401 for an expired token, are logged by Chromium as
// "Failed to load resource" and are not counted.)
export function seriousProblems(page) {
  return page.problems.filter((p) => !/Failed to load resource/.test(p));
}
