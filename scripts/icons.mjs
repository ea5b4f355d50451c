// Renders the app's PNG icons from www/icon.svg with headless Chromium (no network, no image
// library): 192 and 512 px for "any", and a 512 px maskable one whose artwork sits inside the
// safe zone (the inner 80%) on a full-bleed background. Run once after changing the SVG:
// `node scripts/icons.mjs`; the PNGs are committed.
import { readFileSync } from 'node:fs';
import { launchPlaywrightChromium } from '../e2e/engines.mjs';

const svg = readFileSync('www/icon.svg', 'utf8');
const background = svg.match(/fill="(#[0-9a-f]{6})"/i)[1];
const ICONS = [
  { file: 'www/icons/icon-192.png', size: 192, maskable: false },
  { file: 'www/icons/icon-512.png', size: 512, maskable: false },
  { file: 'www/icons/icon-maskable-512.png', size: 512, maskable: true },
];

const browser = await launchPlaywrightChromium();
try {
  const page = await browser.newPage();
  for (const { file, size, maskable } of ICONS) {
    await page.setViewportSize({ width: size, height: size });
    // Maskable: the square background to the edges, the artwork scaled into the safe zone.
    const art = maskable
      ? `<div style="width:${size}px;height:${size}px;background:${background};display:grid;place-items:center">
           <div style="width:${size * 0.8}px;height:${size * 0.8}px">${svg}</div></div>`
      : `<div style="width:${size}px;height:${size}px">${svg}</div>`;
    await page.setContent(`<html><body style="margin:0;background:transparent">${art}</body></html>`);
    await page.addStyleTag({ content: 'svg { width: 100%; height: 100%; display: block; }' });
    await page.screenshot({ path: file, omitBackground: !maskable, clip: { x: 0, y: 0, width: size, height: size } });
  }
} finally {
  await browser.close();
}
