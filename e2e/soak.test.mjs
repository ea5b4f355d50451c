// The quick round of the exactly-once soak (e2e/soak.mjs) inside `make e2e`: one fixed seed,
// every kind of fault at random moments, and the invariant asserted. `make soak` runs long
// ones. Chromium only: stopping the worker and cutting the browser's network need its
// DevTools protocol.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { engines } from './engines.mjs';
import { report, soak } from './soak.mjs';

const skip = !engines().includes('chromium') && 'chromium is not in OFFGRID_E2E_ENGINES';

test('soak: under random faults, every action that did not conflict applies exactly once, every conflict stays in the outbox with its reason, and the cache equals the instance', { skip, timeout: 300_000 }, async () => {
  const stats = await soak({ seed: 12, rounds: 1, actions: 30 });
  console.log(report(stats));
  assert.deepEqual(stats.problems, []);
  assert.equal(stats.duplicates, 0);
  assert.equal(stats.lost, 0);
  assert.equal(stats.cache_mismatches, 0);
  assert.equal(stats.rounds, 1);
  assert.ok(stats.applied > 0, 'actions applied');
  assert.ok(Object.keys(stats.faults).length >= 4, `several kinds of fault were injected: ${JSON.stringify(stats.faults)}`);
});
