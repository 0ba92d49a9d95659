/**
 * Debian's Chromium (never a downloaded browser) through playwright-core, for the e2e test and
 * web/measure.ts: one place for the path and the flags, so both run the page the same way.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/**
 * Headless Chromium has no GPU here; these give navigator.gpu an adapter on SwiftShader (Vulkan in
 * software: right answers, not speed). Without --enable-unsafe-webgpu Linux Chromium exposes none.
 */
export const WEBGPU_FLAGS = [
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-angle=swiftshader',
  '--use-webgpu-adapter=swiftshader',
];

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  ...WEBGPU_FLAGS,
];

/** Why the browser cannot start, or undefined when it can. */
export function chromiumMissing(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  return `${CHROMIUM} not found: this needs Debian's Chromium (apt-get install -y chromium); it never downloads a browser`;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, timeout: 60_000 });
}
