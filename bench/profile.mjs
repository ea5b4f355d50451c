// A CPU profile (DevTools' `.cpuprofile`, as `Profiler.stop` returns it) summed up: the
// functions with the most self time, the wasm's functions with the most total time, and the
// wasm's entry points (the first wasm function below JS, past wasm-bindgen's glue) by total
// time, each with its share of the time the worker was busy (not idle).
//
//   node bench/profile.mjs target/bench/action-1000.10000.cpuprofile   (PROFILE_TOP=40: longer lists)
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const TOP = Number(process.env.PROFILE_TOP || 12);

const isWasm = (n) => n.callFrame.url.includes('.wasm') || n.callFrame.url.startsWith('wasm://');
// wasm-bindgen's and V8's frames between JS and the Rust code they call.
const GLUE = [/^js-to-wasm/, /^wasm-to-js/, / shim$/, /^wasm_bindgen::convert::closures::/];
const isGlue = (name) => GLUE.some((re) => re.test(name));

function key(n) {
  const { functionName, url, lineNumber } = n.callFrame;
  const name = functionName || '(anonymous)';
  if (isWasm(n)) return name;
  if (!url) return name;
  return `${name} (${basename(new URL(url, 'http://x/').pathname)}:${lineNumber + 1})`;
}

/** The summary as lines of text; `intervalUs`: the sampling interval, for the last sample. */
export function summarize(profile, title, intervalUs = 100) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  // Each sample lasts until the next one.
  const selfByNode = new Map();
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    const ms = (timeDeltas[i + 1] ?? intervalUs) / 1000;
    selfByNode.set(samples[i], (selfByNode.get(samples[i]) ?? 0) + ms);
  }
  const self = new Map();
  const wasmTotal = new Map();
  const entryTotal = new Map();
  const add = (map, k, ms) => map.set(k, (map.get(k) ?? 0) + ms);
  let busy = 0;
  for (const [id, ms] of selfByNode) {
    const node = nodes.get(id);
    add(self, key(node), ms);
    if (key(node) !== '(idle)') busy += ms;
    // The stack from the root down; every function counted once, however often it recurses.
    const stack = [];
    for (let n = node; n; n = nodes.get(parent.get(n.id))) stack.unshift(n);
    const seen = new Set();
    const entries = new Set();
    let belowJs = true;
    for (const n of stack) {
      const name = key(n);
      if (!isWasm(n)) {
        belowJs = true;
        continue;
      }
      if (isGlue(name)) continue;
      if (belowJs) entries.add(name);
      belowJs = false;
      seen.add(name);
    }
    for (const k of seen) add(wasmTotal, k, ms);
    for (const k of entries) add(entryTotal, k, ms);
  }
  const wall = (profile.endTime - profile.startTime) / 1000;
  const top = (map, skip = () => false) => [...map].filter(([k]) => !skip(k)).sort((a, b) => b[1] - a[1]).slice(0, TOP)
    .map(([k, ms]) => `      ${(100 * ms / busy).toFixed(1).padStart(5)}%  ${ms.toFixed(1).padStart(8)} ms  ${k}`);
  return [
    `  profile ${title}: busy ${busy.toFixed(0)} ms of ${wall.toFixed(0)} ms recorded`,
    '    self time:',
    ...top(self, (k) => k === '(idle)'),
    '    wasm functions, total time:',
    ...top(wasmTotal),
    '    wasm entry points, total time:',
    ...top(entryTotal),
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node bench/profile.mjs FILE.cpuprofile');
    process.exit(2);
  }
  console.log(summarize(JSON.parse(readFileSync(file, 'utf8')), file));
}
