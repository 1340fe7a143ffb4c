/**
 * Issue 16 §1, "measure WebAssembly too": the notebook's line layout
 * (`{"time":<seconds>,"action":"<string>"}`) scanned, windowed (1 hour) and
 * counted per (window, action) by a hand-written WebAssembly kernel, beside
 * the production path (`ChunkAggregator.read`, the fused JavaScript kernel a
 * chunk worker runs) over the same 1 MiB line-aligned chunks of one data
 * file. Both must give the same lines, the same counts per (window, action)
 * and the same event-time figures, or the program fails.
 *
 * The WebAssembly kernel is the best case for WebAssembly: one fixed layout
 * (no other key order, whitespace, escapes, nulls or unknown keys: it stops
 * at the first such line, where the production kernel hands the line to the
 * general reader), strings of at most 16 bytes, windows within 64 hours of
 * the chunk's first. What it adds that the JavaScript kernel does not pay:
 * copying each chunk into the module's memory (a worker receives chunks as
 * transferred `ArrayBuffer`s, which WebAssembly cannot read in place).
 *
 * Prints ns per line (the minimum over `--rounds`, each `--reps` passes over
 * the file: the minimum is the figure least disturbed by other load) for
 * both, and their ratio. With `--callgrind`, instructions per line for both,
 * counted by valgrind (independent of load): two runs differing only in
 * repetitions, so start-up and compilation cancel out.
 *
 * `node dist-bench/wasm-scan.js [--file F] [--reps 5] [--rounds 7] [--callgrind]`
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import wabtInit from 'wabt';
import { DATA_DEFAULTS, DATA_ROOT, ROOT, dataSetName, distModuleUrl, flags, intFlag, isMain } from './common.js';
import { chunksOf } from './scan-cost.js';

// The module's memory holds a chunk of at most 2 MiB (chunksOf cuts 1 MiB pieces).
const CHUNK_BYTES = 1024 * 1024;
const WINDOW_S = 3600;
const MAX_KEYS = 64;
const MAX_WINDOWS = 64;
// Memory: the chunk at 0 (room for 2 MiB), then the counts (i32 [window][key]), then the dictionary.
const COUNTS_AT = 2 * CHUNK_BYTES;
const DICT_AT = COUNTS_AT + MAX_WINDOWS * MAX_KEYS * 4;

// Little-endian words of the layout's literals.
const word = (s: string): bigint => {
  let v = 0n;
  for (let i = s.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(s.charCodeAt(i));
  return v;
};

/**
 * The kernel. `scan(end)` reads lines from 0 until `end` or the first line
 * outside the layout and returns where it stopped (the start of that
 * line). Globals hold the chunk's figures: lines, the first window (the
 * counts' origin), min/max/sum of event times (µs, as the production
 * kernel keeps them), and the dictionary size.
 */
const WAT = String.raw`
(module
  (memory (export "memory") 64)
  (global $lines (export "lines") (mut i32) (i32.const 0))
  (global $base (export "base") (mut i64) (i64.const -1))
  (global $minUs (export "minUs") (mut i64) (i64.const 0x7fffffffffffffff))
  (global $maxUs (export "maxUs") (mut i64) (i64.const 0x8000000000000000))
  (global $sumUs (export "sumUs") (mut f64) (f64.const 0))
  (global $keys (export "keys") (mut i32) (i32.const 0))
  ;; The id of the string [s, s+len), added to the dictionary when new; -1: too long or the dictionary is full.
  (func $keyOf (param $s i32) (param $len i32) (result i32)
    (local $a i64) (local $b i64) (local $k i32) (local $e i32)
    (if (i32.gt_u (local.get $len) (i32.const 16)) (then (return (i32.const -1))))
    ;; The string's bytes as two words, bytes past its end cleared.
    (local.set $a (i64.load (local.get $s)))
    (local.set $b (i64.load (i32.add (local.get $s) (i32.const 8))))
    (if (i32.lt_u (local.get $len) (i32.const 8))
      (then
        (local.set $a (i64.and (local.get $a) (i64.sub (i64.shl (i64.const 1) (i64.extend_i32_u (i32.shl (local.get $len) (i32.const 3)))) (i64.const 1))))
        (local.set $b (i64.const 0)))
      (else
        (if (i32.lt_u (local.get $len) (i32.const 16))
          (then (local.set $b (i64.and (local.get $b) (i64.sub (i64.shl (i64.const 1) (i64.extend_i32_u (i32.shl (i32.sub (local.get $len) (i32.const 8)) (i32.const 3)))) (i64.const 1))))))))
    ;; An open-addressing table of ${MAX_KEYS} entries of 32 bytes (length + 1, the two words, the id),
    ;; indexed by a multiplicative hash of the words: one probe for the usual key.
    (local.set $k (i32.wrap_i64 (i64.shr_u (i64.mul (i64.xor (local.get $a) (i64.rotl (local.get $b) (i64.const 29))) (i64.const 0x9E3779B97F4A7C15)) (i64.const 58))))
    (block $found
      (loop $probe
        (local.set $e (i32.add (i32.const ${DICT_AT}) (i32.shl (local.get $k) (i32.const 5))))
        (if (i32.eqz (i32.load (local.get $e)))
          (then
            ;; A new key (the table is kept at most half full).
            (if (i32.ge_u (global.get $keys) (i32.const ${MAX_KEYS / 2})) (then (return (i32.const -1))))
            (i32.store (local.get $e) (i32.add (local.get $len) (i32.const 1)))
            (i64.store offset=8 (local.get $e) (local.get $a))
            (i64.store offset=16 (local.get $e) (local.get $b))
            (i32.store offset=24 (local.get $e) (global.get $keys))
            (global.set $keys (i32.add (global.get $keys) (i32.const 1)))
            (br $found)))
        (br_if $found (i32.and
              (i32.and (i32.eq (i32.load (local.get $e)) (i32.add (local.get $len) (i32.const 1)))
                       (i64.eq (i64.load offset=8 (local.get $e)) (local.get $a)))
              (i64.eq (i64.load offset=16 (local.get $e)) (local.get $b))))
        (local.set $k (i32.and (i32.add (local.get $k) (i32.const 1)) (i32.const ${MAX_KEYS - 1})))
        (br $probe)))
    (i32.load offset=24 (local.get $e)))
  (func (export "scan") (param $end i32) (result i32)
    (local $p i32) (local $ls i32) (local $c i32) (local $t i64) (local $s i32) (local $key i32)
    (local $w i64) (local $rel i64) (local $us i64) (local $digits i32)
    (local $lines i32) (local $minUs i64) (local $maxUs i64) (local $sumUs f64)
    (local $wStart i64) (local $wEnd i64) (local $row i32)
    (local.set $lines (global.get $lines))
    (local.set $minUs (global.get $minUs))
    (local.set $maxUs (global.get $maxUs))
    (local.set $sumUs (global.get $sumUs))
    (block $stop
      (loop $line
        (local.set $ls (local.get $p))
        (br_if $stop (i32.ge_u (local.get $p) (local.get $end)))
        ;; {"time":
        (br_if $stop (i64.ne (i64.load (local.get $p)) (i64.const ${word('{"time":')})))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (local.set $t (i64.const 0))
        (local.set $digits (i32.const 0))
        (block $num
          (loop $digit
            (local.set $c (i32.sub (i32.load8_u (local.get $p)) (i32.const 48)))
            (br_if $num (i32.ge_u (local.get $c) (i32.const 10)))
            (local.set $t (i64.add (i64.mul (local.get $t) (i64.const 10)) (i64.extend_i32_u (local.get $c))))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (local.set $digits (i32.add (local.get $digits) (i32.const 1)))
            (br $digit)))
        ;; 1 to 12 digits, then ,"action":"
        (br_if $stop (i32.or (i32.eqz (local.get $digits)) (i32.gt_u (local.get $digits) (i32.const 12))))
        (br_if $stop (i32.ne (i32.load8_u (local.get $p)) (i32.const 44)))
        (br_if $stop (i64.ne (i64.load offset=1 (local.get $p)) (i64.const ${word('"action"')})))
        (br_if $stop (i32.ne (i32.load16_u offset=9 (local.get $p)) (i32.const ${Number(word(':"'))})))
        (local.set $p (i32.add (local.get $p) (i32.const 11)))
        (local.set $s (local.get $p))
        ;; The string, up to its quote; a backslash or a line end: not this layout.
        (block $str
          (loop $char
            (local.set $c (i32.load8_u (local.get $p)))
            (br_if $str (i32.eq (local.get $c) (i32.const 34)))
            (br_if $stop (i32.or (i32.eq (local.get $c) (i32.const 92)) (i32.lt_u (local.get $c) (i32.const 32))))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br_if $stop (i32.ge_u (local.get $p) (local.get $end)))
            (br $char)))
        ;; "}\n
        (br_if $stop (i32.ne (i32.load16_u offset=1 (local.get $p)) (i32.const ${Number(word('}\n'))})))
        (local.set $key (call $keyOf (local.get $s) (i32.sub (local.get $p) (local.get $s))))
        (br_if $stop (i32.lt_s (local.get $key) (i32.const 0)))
        ;; The window: counts[(window - base) * keys + key]; the division only when the window changes.
        (if (i32.eqz (i32.and (i64.ge_s (local.get $t) (local.get $wStart)) (i64.lt_s (local.get $t) (local.get $wEnd))))
          (then
            (local.set $w (i64.div_u (local.get $t) (i64.const ${WINDOW_S})))
            (if (i64.lt_s (global.get $base) (i64.const 0)) (then (global.set $base (i64.sub (local.get $w) (i64.const 8)))))
            (local.set $rel (i64.sub (local.get $w) (global.get $base)))
            (br_if $stop (i64.ge_u (local.get $rel) (i64.const ${MAX_WINDOWS})))
            (local.set $wStart (i64.mul (local.get $w) (i64.const ${WINDOW_S})))
            (local.set $wEnd (i64.add (local.get $wStart) (i64.const ${WINDOW_S})))
            (local.set $row (i32.add (i32.const ${COUNTS_AT}) (i32.shl (i32.mul (i32.wrap_i64 (local.get $rel)) (i32.const ${MAX_KEYS})) (i32.const 2))))))
        (local.set $c (i32.add (local.get $row) (i32.shl (local.get $key) (i32.const 2))))
        (i32.store (local.get $c) (i32.add (i32.load (local.get $c)) (i32.const 1)))
        (local.set $us (i64.mul (local.get $t) (i64.const 1000000)))
        (if (i64.lt_s (local.get $us) (local.get $minUs)) (then (local.set $minUs (local.get $us))))
        (if (i64.gt_s (local.get $us) (local.get $maxUs)) (then (local.set $maxUs (local.get $us))))
        (local.set $sumUs (f64.add (local.get $sumUs) (f64.convert_i64_s (local.get $us))))
        (local.set $lines (i32.add (local.get $lines) (i32.const 1)))
        (local.set $p (i32.add (local.get $p) (i32.const 3)))
        (br $line)))
    (global.set $lines (local.get $lines))
    (global.set $minUs (local.get $minUs))
    (global.set $maxUs (local.get $maxUs))
    (global.set $sumUs (local.get $sumUs))
    (local.get $ls)))
`;

// The compiler's `lib` has no DOM, where TypeScript declares WebAssembly: the little used here.
interface WasmGlobal {
  value: number | bigint;
}
declare const WebAssembly: {
  instantiate(bytes: Uint8Array): Promise<{ instance: { exports: unknown } }>;
};

interface WasmKernel {
  readonly memory: { readonly buffer: ArrayBuffer };
  readonly lines: WasmGlobal;
  readonly base: WasmGlobal;
  readonly minUs: WasmGlobal;
  readonly maxUs: WasmGlobal;
  readonly sumUs: WasmGlobal;
  readonly keys: WasmGlobal;
  scan(end: number): number;
}

async function compileKernel(): Promise<WasmKernel> {
  const wabt = await wabtInit();
  const module = wabt.parseWat('scan.wat', WAT);
  const { buffer } = module.toBinary({});
  module.destroy();
  const { instance } = await WebAssembly.instantiate(buffer);
  return instance.exports as unknown as WasmKernel;
}

/** What a pass over the file gives: lines, counts by `window start (s)|action`, event-time figures. */
interface PassResult {
  lines: number;
  readonly counts: Map<string, number>;
  minUs: number;
  maxUs: number;
  sumUs: number;
}

const emptyResult = (): PassResult => ({ lines: 0, counts: new Map(), minUs: Infinity, maxUs: -Infinity, sumUs: 0 });

function wasmPass(k: WasmKernel, chunks: readonly Uint8Array[], collect: PassResult | null): number {
  const memory = new Uint8Array(k.memory.buffer);
  const counts = new Int32Array(k.memory.buffer, COUNTS_AT, MAX_WINDOWS * MAX_KEYS);
  const dict = new DataView(k.memory.buffer, DICT_AT);
  let lines = 0;
  for (const chunk of chunks) {
    // The copy a worker would pay: the chunk arrives as its own ArrayBuffer. 16 zero bytes after it
    // keep the kernel's 8-byte loads at the end inside what this chunk wrote.
    memory.set(chunk, 0);
    memory.fill(0, chunk.length, chunk.length + 16);
    k.lines.value = 0;
    k.base.value = -1n;
    const stopped = k.scan(chunk.length);
    if (stopped !== chunk.length) throw new Error(`the WebAssembly kernel stopped at byte ${stopped} of ${chunk.length}: a line outside the layout`);
    lines += k.lines.value as number;
    if (collect !== null) {
      const base = Number(k.base.value as bigint);
      for (let w = 0; w < MAX_WINDOWS; w++) {
        for (let slot = 0; slot < MAX_KEYS; slot++) {
          const stored = dict.getInt32(slot * 32, true);
          if (stored === 0) continue;
          const n = counts[w * MAX_KEYS + dict.getInt32(slot * 32 + 24, true)]!;
          if (n === 0) continue;
          const name = Buffer.from(k.memory.buffer, DICT_AT + slot * 32 + 8, stored - 1).toString('latin1');
          const id = `${(base + w) * WINDOW_S}|${name}`;
          collect.counts.set(id, (collect.counts.get(id) ?? 0) + n);
        }
      }
    }
    counts.fill(0);
  }
  if (collect !== null) {
    collect.lines = lines;
    collect.minUs = Number(k.minUs.value as bigint);
    collect.maxUs = Number(k.maxUs.value as bigint);
    collect.sumUs = k.sumUs.value as number;
  }
  return lines;
}

// The production kernel, loaded from the build by path (lib/ is not part of this program).
interface PartialAggregatesLike {
  readonly length: number;
  readonly slotStarts: Float64Array;
  readonly keys: ReadonlyArray<string | null>;
  readonly partial: ReadonlyArray<{ readonly values: Float64Array }>;
  readonly eventTime: { readonly maxMs: number; readonly minMs: number; readonly sumMs: number } | null;
}
interface ChunkAggregatorLike {
  read(bytes: Uint8Array, file: string, fileStart: boolean, maxLineLength: number, batchTimestampMs: number): { lines: number; groups: PartialAggregatesLike };
}

async function productionKernel(): Promise<ChunkAggregatorLike> {
  const { parseDDL } = (await import(distModuleUrl('core/ddl.js'))) as { parseDDL(text: string): { fields: ReadonlyArray<{ name: string }> } };
  const { ChunkAggregator } = (await import(distModuleUrl('core/chunk-aggregator.js'))) as { ChunkAggregator: new (config: unknown) => ChunkAggregatorLike };
  const schema = parseDDL('time timestamp, action string');
  return new ChunkAggregator({
    reader: { schema, mode: 'PERMISSIVE', columnNameOfCorruptRecord: '_corrupt_record', timeZone: 'UTC', maxEventTimeAhead: null },
    plan: { timeIndex: 0, keyIndex: 1, slideUs: WINDOW_S * 1e6, startTimeUs: 0, store: { kind: 'count', name: 'count' } },
  });
}

function jsPass(aggregator: ChunkAggregatorLike, chunks: readonly Uint8Array[], file: string): number {
  let lines = 0;
  for (let c = 0; c < chunks.length; c++) lines += aggregator.read(chunks[c]!, file, c === 0, Infinity, 0).lines;
  return lines;
}

/** What the production kernel gives, in the same shape (event times in ms, as its partials carry them). */
function jsResult(aggregator: ChunkAggregatorLike, chunks: readonly Uint8Array[], file: string): PassResult {
  const out = emptyResult();
  for (let c = 0; c < chunks.length; c++) {
    const reply = aggregator.read(chunks[c]!, file, c === 0, Infinity, 0);
    out.lines += reply.lines;
    const g = reply.groups;
    for (let i = 0; i < g.length; i++) {
      const id = `${g.slotStarts[i]! / 1e6}|${g.keys[i]}`;
      out.counts.set(id, (out.counts.get(id) ?? 0) + g.partial[0]!.values[i]!);
    }
    if (g.eventTime !== null) {
      out.minUs = Math.min(out.minUs, g.eventTime.minMs * 1000);
      out.maxUs = Math.max(out.maxUs, g.eventTime.maxMs * 1000);
      out.sumUs += g.eventTime.sumMs * 1000;
    }
  }
  return out;
}

/** Counts by `window start (s)|action` straight from the text with JSON.parse: the reference both kernels must match. */
function referenceCounts(bytes: Uint8Array): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of Buffer.from(bytes).toString('utf8').split('\n')) {
    if (line.length === 0) continue;
    const { time, action } = JSON.parse(line) as { time: number; action: string };
    const id = `${Math.floor(time / WINDOW_S) * WINDOW_S}|${action}`;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

function sameCounts(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

interface Options {
  readonly file: string;
  readonly reps: number;
  readonly rounds: number;
  readonly only: 'js' | 'wasm' | null;
}

async function measure(o: Options): Promise<{ lines: number; jsNs: number; wasmNs: number }> {
  const bytes = readFileSync(o.file);
  const chunks = chunksOf(bytes);
  const kernel = await compileKernel();
  const aggregator = await productionKernel();
  // Same answers first: the WebAssembly counts against JSON.parse, both kernels' event-time figures against each other.
  const wasm = emptyResult();
  wasmPass(kernel, chunks, wasm);
  const js = jsResult(aggregator, chunks, o.file);
  const reference = referenceCounts(bytes);
  if (!sameCounts(wasm.counts, reference)) throw new Error('the WebAssembly counts differ from JSON.parse');
  if (!sameCounts(js.counts, reference)) throw new Error('the JavaScript counts differ from JSON.parse');
  // Sums of µs as doubles: the same values added in another grouping may differ in the last bits.
  if (wasm.lines !== js.lines || wasm.minUs !== js.minUs || wasm.maxUs !== js.maxUs || Math.abs(wasm.sumUs - js.sumUs) > 1e-9 * js.sumUs) {
    throw new Error(`the kernels disagree: lines ${wasm.lines}/${js.lines}, min ${wasm.minUs}/${js.minUs}, max ${wasm.maxUs}/${js.maxUs}, sum ${wasm.sumUs}/${js.sumUs}`);
  }
  let jsNs = Infinity;
  let wasmNs = Infinity;
  for (let r = 0; r < o.rounds; r++) {
    if (o.only !== 'wasm') {
      const t = process.hrtime.bigint();
      for (let i = 0; i < o.reps; i++) jsPass(aggregator, chunks, o.file);
      jsNs = Math.min(jsNs, Number(process.hrtime.bigint() - t) / (o.reps * js.lines));
    }
    if (o.only !== 'js') {
      const t = process.hrtime.bigint();
      for (let i = 0; i < o.reps; i++) wasmPass(kernel, chunks, null);
      wasmNs = Math.min(wasmNs, Number(process.hrtime.bigint() - t) / (o.reps * js.lines));
    }
  }
  return { lines: js.lines, jsNs, wasmNs };
}

function callgrind(file: string, only: 'js' | 'wasm', rounds: number): number {
  // --no-liftoff: WebAssembly straight to its optimizing compiler. Under valgrind, which runs one thread at a
  // time, the background tier-up would otherwise leave most passes on baseline code no real run keeps.
  const args = ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, '--no-liftoff', join(ROOT, 'dist-bench', 'wasm-scan.js'), '--file', file, '--reps', '1', '--rounds', String(rounds), '--only', only];
  const child = spawnSync('valgrind', args, { encoding: 'utf8' });
  const collected = /Collected : (\d+)/.exec(child.stderr);
  if (child.status !== 0 || collected === null) throw new Error(`valgrind failed: ${child.stderr.slice(-2000)}`);
  return Number(collected[1]);
}

async function main(argv: readonly string[]): Promise<void> {
  const { values } = flags(argv, {
    file: { type: 'string' },
    reps: { type: 'string' },
    rounds: { type: 'string' },
    only: { type: 'string' },
    callgrind: { type: 'boolean' },
  });
  const file = values.file ?? join(DATA_ROOT, dataSetName(DATA_DEFAULTS), 'part-00000.json');
  const only = values.only === 'js' || values.only === 'wasm' ? values.only : null;
  if (values.callgrind === true) {
    const lines = (await measure({ file, reps: 1, rounds: 1, only: null })).lines;
    const per = (which: 'js' | 'wasm'): number => (callgrind(file, which, 6) - callgrind(file, which, 2)) / (4 * lines);
    const js = per('js');
    const wasm = per('wasm');
    console.log(`callgrind, instructions per line: JavaScript kernel ${js.toFixed(1)}, WebAssembly kernel ${wasm.toFixed(1)} (with the copy into its memory); ratio ${(js / wasm).toFixed(2)}`);
    return;
  }
  const r = await measure({ file, reps: intFlag(values.reps, 'reps', 5), rounds: intFlag(values.rounds, 'rounds', 7), only });
  if (only !== null) return;
  console.log(`${r.lines} lines, same counts and event-time figures; ns per line (minimum of rounds): JavaScript kernel ${r.jsNs.toFixed(1)}, WebAssembly kernel ${r.wasmNs.toFixed(1)} (with the copy into its memory); ratio ${(r.jsNs / r.wasmNs).toFixed(2)}`);
}

if (isMain(import.meta.url)) await main(process.argv.slice(2));
