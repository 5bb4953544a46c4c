// Browser-test set-up: the real server (buildApp over a workspace of test/api/helpers.ts, listening
// on a free port) and Debian's Chromium driven by playwright-core. No Chromium: the tests are
// skipped with the reason printed.
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { workspace, type Workspace } from '../api/helpers.js';

export const CHROMIUM = process.env.KINDRED_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Why browser tests cannot run here, or null when they can. */
export function skipReason(): string | null {
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (install Debian's chromium package; .ci/run does)`;
  return null;
}

export interface Served {
  ws: Workspace;
  base: string;
  close(): Promise<void>;
}

/** A workspace over `definition`, refreshed once, listening on 127.0.0.1 on a free port. */
export async function serve(definition: string): Promise<Served> {
  const ws = await workspace({ definition });
  await ws.refresh();
  await ws.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = ws.app.server.address() as AddressInfo;
  return { ws, base: `http://127.0.0.1:${port}`, close: () => ws.close() };
}

/**
 * Chromium with a fresh profile (playwright's launch() makes a new temporary user-data-dir each
 * time and removes it on close).
 */
export async function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
}

export interface Ui {
  context: BrowserContext;
  page: Page;
  /** Browser console errors and failed page scripts, so a test can assert there were none. */
  errors: string[];
}

export async function openUi(browser: Browser, base: string, options: { width?: number; height?: number; colorScheme?: 'light' | 'dark' } = {}): Promise<Ui> {
  const context = await browser.newContext({
    baseURL: base,
    viewport: { width: options.width ?? 1280, height: options.height ?? 900 },
    colorScheme: options.colorScheme ?? 'light',
    deviceScaleFactor: 1,
  });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  return { context, page, errors };
}

/** Signs in through the sign-in page with an API key and waits for the instances list. */
export async function signIn(page: Page, key: string): Promise<void> {
  await page.goto('/');
  await page.getByLabel('API key').fill(key);
  await page.getByLabel('API key').press('Enter');
  await page.getByRole('heading', { name: 'Instances', level: 1 }).waitFor();
}
