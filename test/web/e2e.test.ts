/**
 * End-to-end: build the bundle, serve it on a free loopback port, drive Debian's Chromium (never a
 * downloaded browser) through playwright-core, classify a sample and check the attention maps.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FASHION_MNIST_CLASSES } from '../../src/data/fashion_mnist.js';
import { registryEntry } from '../../src/models/registry.js';
import { buildWeb } from '../../web/build.js';
import { REPO_ROOT, SAMPLES_DIR, WEIGHTS_PATH } from '../../web/paths.js';
import { startServer, type RunningServer } from '../../web/serve.js';
import { MODEL_NAME, type Sample } from '../../web/src/shared.js';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SCREENSHOT = join(REPO_ROOT, 'test-output', 'web.png');
/** Trouser: the class a trained model gets right most reliably, so the check is not flaky. */
const SAMPLE = 1;
const SHIPPED = existsSync(join(REPO_ROOT, WEIGHTS_PATH));
const HAVE_CHROMIUM = existsSync(CHROMIUM);

describe('browser demo (Chromium)', () => {
  let server: RunningServer | undefined;
  let context: BrowserContext | undefined;
  let profile: string | undefined;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    // a missing browser fails the test below (never a silent skip)
    if (!HAVE_CHROMIUM) return;
    await buildWeb();
    server = await startServer(0);
    profile = mkdtempSync(join(tmpdir(), 'flatten-web-profile-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1200, height: 900 },
      timeout: 60_000,
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(60_000);
    page.on('pageerror', (err) => pageErrors.push(err.message));
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('classifies a test sample and draws non-blank attention maps', async () => {
    expect(
      HAVE_CHROMIUM,
      `${CHROMIUM} not found: this test needs Debian's Chromium (apt-get install -y chromium); it never downloads a browser`,
    ).toBe(true);
    await page.goto(server!.url);
    await page.waitForSelector('body[data-model="ready"]');
    const sample = (JSON.parse(readFileSync(join(SAMPLES_DIR, 'samples.json'), 'utf8')) as Sample[])[SAMPLE];
    await page.click(`button[data-sample="${SAMPLE}"]`);
    await page.waitForSelector(`#predictions[data-input="sample:${SAMPLE}"] li`);

    const top = await page.locator('#predictions li').allTextContents();
    expect(top).toHaveLength(5);
    const top1 = await page.locator('#predictions li .label').first().textContent();
    expect(await page.locator('#banner').isVisible()).toBe(!SHIPPED);
    // with the shipped (trained) weights the answer must be right; random weights only show some class
    if (SHIPPED) expect(top1).toBe(FASHION_MNIST_CLASSES[sample.label]);
    else expect(FASHION_MNIST_CLASSES).toContain(top1);

    const maps = page.locator('canvas.heatmap');
    expect(await maps.count()).toBe((registryEntry(MODEL_NAME).kwargs.depth as number) * 4); // every block is focused; 4 forms each
    const colours = await maps.evaluateAll((canvases) =>
      (canvases as HTMLCanvasElement[]).map((c) => {
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        const seen = new Set<number>();
        for (let i = 0; i < d.length; i += 4) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
        return seen.size;
      }),
    );
    for (const n of colours) expect(n).toBeGreaterThan(1);

    // clicking a map cell makes it the query
    await maps.first().click({ position: { x: 5, y: 5 } });
    expect(await page.locator('#query-label').textContent()).toBe('patch row 1, column 1');

    mkdirSync(join(REPO_ROOT, 'test-output'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(pageErrors).toEqual([]);
  }, 120_000);
});
