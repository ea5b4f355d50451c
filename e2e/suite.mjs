// The set-up Chromium-only test files share: one instance and one Playwright Chromium for the
// file, started before its tests and stopped after them.
import { before, after } from 'node:test';
import { launchPlaywrightChromium } from './engines.mjs';
import { Instance } from './instance.mjs';

/**
 * Registers the file's `before`/`after` hooks; the returned object's `instance` and `browser`
 * are set once `before` has run. `skip`: the reason the file is skipped, or false.
 */
export function chromiumSuite(skip, instanceOptions = {}) {
  const suite = { instance: null, browser: null };
  before(async () => {
    if (skip) return;
    suite.instance = new Instance(instanceOptions);
    await suite.instance.start();
    suite.browser = await launchPlaywrightChromium();
  });
  after(async () => {
    await suite.browser?.close();
    await suite.instance?.close();
  });
  return suite;
}
