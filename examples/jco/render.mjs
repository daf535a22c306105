// The webhook-provider component under Node.js: a JavaScript host in one file.
//
// jco transpiles the component (dist/webhook-provider-0.2.0.wasm) into an ES module in
// gen/ (see the README, "Loading it from JavaScript"). The component imports one thing,
// connect:webhook/zone, answered here from the JavaScript engine's own time-zone database
// (Intl); it needs no WASI and no other shim.
//
//   node render.mjs corpus.json
//
// makes every call of corpus.json (written by `cargo xtask corpus`: the examples and edge
// cases, as the values jco passes) and prints one JSON line a call, in the format
// `cargo xtask render` prints for the same calls through wasmtime: the two must be equal.

import { readFile } from 'node:fs/promises';
import { instantiate } from './gen/webhook-provider.js';

/** How each part of a date the zone's clock shows is read back, by `Intl` part name. */
const CLOCK_PARTS = { year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', era: 'short' };

/**
 * connect:webhook/zone.utc-offset: the offset in seconds east of UTC of the IANA zone
 * `name` at the instant `at` (`{seconds: bigint, nanoseconds}`), or an error naming the
 * zone. The offset is what the zone's wall clock shows minus UTC, to the second.
 */
export function utcOffset(name, at) {
  let clock;
  try {
    clock = new Intl.DateTimeFormat('en-US', { timeZone: name, hourCycle: 'h23', ...CLOCK_PARTS });
  } catch {
    return { tag: 'err', val: `unknown time zone ${JSON.stringify(name)}; use an IANA name such as Europe/London or America/New_York` };
  }
  const ms = Number(at.seconds) * 1000;
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) {
    return { tag: 'err', val: `instant ${at.seconds}s is out of the range JavaScript dates hold` };
  }
  const part = Object.fromEntries(clock.formatToParts(date).map((p) => [p.type, p.value]));
  const year = part.era === 'BC' ? 1 - Number(part.year) : Number(part.year);
  const wall = new Date(0);
  wall.setUTCFullYear(year, Number(part.month) - 1, Number(part.day));
  wall.setUTCHours(Number(part.hour), Number(part.minute), Number(part.second));
  return (wall.getTime() - ms) / 1000;
}

/** Instantiate the transpiled component in `dir`; its `provider` export. */
export async function load(dir = new URL('./gen/', import.meta.url)) {
  const getCoreModule = async (file) => WebAssembly.compile(await readFile(new URL(file, dir)));
  const root = await instantiate(getCoreModule, { 'connect:webhook/zone': { utcOffset } });
  return root.provider;
}

// corpus.json writes what JSON cannot hold as text: 64-bit integers as decimal strings,
// bytes as base64. These give jco the values the WIT types map to.
const instant = (i) => ({ seconds: BigInt(i.seconds), nanoseconds: i.nanoseconds });
const context = (c) => ({ ...c, now: instant(c.now), idSeed: BigInt(c.idSeed) });
const bytes = (base64) => new Uint8Array(Buffer.from(base64, 'base64'));
const page = (p) => ({
  text: p.text,
  names: Uint32Array.from(p.names),
  pathNames: Uint32Array.from(p.pathNames),
  paths: Uint32Array.from(p.paths),
  cellPaths: Uint32Array.from(p.cellPaths),
  cellKinds: Uint8Array.from(p.cellKinds),
  cellValues: BigUint64Array.from(p.cellValues, BigInt),
  instants: p.instants.map(instant),
  rows: Uint32Array.from(p.rows),
});
const changes = (c) => ({
  eventIds: Uint32Array.from(c.eventIds),
  entities: Uint32Array.from(c.entities),
  codes: Uint32Array.from(c.codes),
  changedBy: Uint32Array.from(c.changedBy),
  kinds: Uint8Array.from(c.kinds),
  newStates: Uint32Array.from(c.newStates),
  priorStates: Uint32Array.from(c.priorStates),
  atSeconds: BigInt64Array.from(c.atSeconds, BigInt),
  atNanoseconds: Uint32Array.from(c.atNanoseconds),
});

/** Each call of the corpus: the component's function, given the case's plan. */
const CALLS = {
  'compile': (provider, _plan, [configuration, strategy]) => provider.compile(configuration, strategy),
  'on-changes': (_, plan, [p, c, x]) => plan.onChanges(page(p), changes(c), context(x)),
  'on-demand': (_, plan, [mode, p, x]) => plan.onDemand(mode, page(p), context(x)),
  'on-schedule': (_, plan, [name, p, x]) => plan.onSchedule(name, page(p), context(x)),
  'next-fire': (_, plan, [name, after]) => plan.nextFire(name, instant(after)),
  'preview': (_, plan, [name, after, count]) => plan.preview(name, instant(after), count),
  'token-request': (_, plan) => plan.tokenRequest(),
  'sign': (_, plan, [id, body, now]) => plan.sign(id, bytes(body), instant(now)),
  'cron-preview': (provider, _plan, [cron, zone, after, count]) =>
    provider.cronPreview(cron, zone ?? undefined, instant(after), count),
  'evaluate': (provider, _plan, [expression, p, sample, x]) =>
    provider.evaluate(expression, page(p), { state: sample.state, prior: sample.prior ?? undefined }, context(x)),
};

/** A result as JSON text: 64-bit integers as decimal strings, bytes as base64, none as null. */
const toJson = (value) =>
  JSON.stringify(value, (_key, v) => {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
    return v === undefined ? null : v;
  });

async function main(corpusFile) {
  const corpus = JSON.parse(await readFile(corpusFile, 'utf8'));
  const provider = await load();
  const plans = new Map();
  for (const { case: name, call, args } of corpus.calls) {
    let result;
    try {
      const ok = CALLS[call](provider, plans.get(name), args);
      if (call === 'compile') {
        plans.set(name, ok);
        result = { ok: ok.warnings() };
      } else {
        result = { ok };
      }
    } catch (e) {
      // jco throws a result's error as a ComponentError carrying it as `payload`;
      // anything else is a failure of this host, not an answer.
      if (e?.payload === undefined) throw e;
      result = { err: e.payload };
    }
    console.log(toJson({ case: name, call, result }));
  }
}

if (import.meta.url === new URL(process.argv[1], 'file:').href) {
  if (process.argv.length !== 3) {
    console.error('usage: node render.mjs corpus.json');
    process.exit(2);
  }
  await main(process.argv[2]);
}
