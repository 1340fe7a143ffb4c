/**
 * A stage test harness in the manner of Flink's operator test harnesses:
 * open a stage on a schema, push rows and watermarks micro-batch by
 * micro-batch, take its state at each barrier (a snapshot, or a delta on
 * top of the last snapshot, as the checkpoint does), restore it into a
 * fresh instance, go on, and compare with the uninterrupted run. No source, no
 * sink, no checkpoint directory: the stage alone, through the protocol.
 */
import { RecordBatch, type Row } from '../../lib/core/batch.js';
import type { Schema } from '../../lib/core/schema.js';
import type { OutputMode } from '../../lib/core/output-mode.js';
import { barrier, type BarrierItem, type CommitPort, type Recovered, type RecoveredState, type StateImage, type StreamItem } from '../../lib/protocol.js';
import { decodeTypedArrays, encodeTypedArrays } from '../../lib/stages/snapshot-codec.js';
import type { Stage } from '../../lib/stages/stage.js';

/** One micro-batch: rows (row view) and the watermarks of its `begin`. */
export interface HarnessBatch {
  readonly rows: readonly Row[];
  /** Eviction watermark (ms); 0 when absent. */
  readonly watermarkMs?: number;
  /** Late-row watermark (ms, the previous batch's); 0 when absent. */
  readonly lateWatermarkMs?: number;
}

/** What a stage did in one micro-batch. */
export interface HarnessOutcome {
  readonly rows: Row[];
  readonly barrier: BarrierItem;
}

const PORT: CommitPort = { opened: () => undefined, commit: async () => undefined };

/** One stage instance driven item by item. */
export class StageHarness {
  readonly stage: Stage;
  readonly #schema: Schema;
  #batchId = 0;

  private constructor(stage: Stage, schema: Schema, batchId: number) {
    this.stage = stage;
    this.#schema = schema;
    this.#batchId = batchId;
  }

  /** Opens `stage` on `schema` (loading `recovered` state by operator id, as a restarted run does). */
  static async open(stage: Stage, schema: Schema, options: { outputMode?: OutputMode; recovered?: Recovered } = {}): Promise<StageHarness> {
    const harness = new StageHarness(stage, schema, options.recovered === undefined ? 0 : options.recovered.batchId + 1);
    await harness.#send({
      kind: 'open',
      schema,
      outputMode: options.outputMode,
      recovered: options.recovered ?? null,
      nextOperatorId: 0,
      aggregated: false,
      query: { id: 'harness', runId: 'harness', name: null, checkpointLocation: null },
      plan: [],
      commits: PORT,
    });
    return harness;
  }

  /** Runs one micro-batch and returns what the stage emitted and its barrier. */
  async batch(input: HarnessBatch): Promise<HarnessOutcome> {
    const batchId = this.#batchId++;
    const out: StreamItem[] = [];
    out.push(...(await this.#send({ kind: 'begin', batchId, batchTimestampMs: 0, drain: false, watermarkMs: input.watermarkMs ?? 0, lateWatermarkMs: input.lateWatermarkMs ?? 0 })));
    if (input.rows.length > 0) out.push(...(await this.#send({ kind: 'rows', batch: RecordBatch.fromRows(this.#schema, input.rows) })));
    const b = barrier(batchId);
    out.push(...(await this.#send(b)));
    const rows: Row[] = [];
    for (const item of out) if (item.kind === 'rows') rows.push(...item.batch.rows());
    return { rows, barrier: b };
  }

  // Writes one item and collects what the stage emits for it (the stage emits before taking the next item).
  async #send(item: StreamItem): Promise<StreamItem[]> {
    const out: StreamItem[] = [];
    const onData = (x: StreamItem): void => void out.push(x);
    this.stage.on('data', onData);
    try {
      await new Promise<void>((resolve, reject) => this.stage.write(item, (err) => (err == null ? resolve() : reject(err))));
      // Items a generator emitted after the write callback (backpressure) arrive on the next turns.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      this.stage.off('data', onData);
    }
    return out;
  }
}

/** A state image through JSON, as a checkpoint file holds it (typed arrays as base64). */
export function throughJson(image: StateImage): StateImage {
  return decodeTypedArrays(JSON.parse(JSON.stringify(encodeTypedArrays(image)))) as StateImage;
}

/**
 * Runs `batches` through one instance of the stage, and again with its
 * state taken at every barrier and loaded into a fresh instance before the
 * next batch (through JSON, as a checkpoint holds it): a snapshot every
 * third barrier, deltas on top of it in between (the checkpoint's chain).
 * Returns both runs' outputs, to compare.
 */
export async function restoreAtEveryBarrier(args: {
  make: () => Stage;
  schema: Schema;
  outputMode?: OutputMode;
  batches: readonly HarnessBatch[];
}): Promise<{ uninterrupted: Row[][]; restored: Row[][] }> {
  const options = args.outputMode === undefined ? {} : { outputMode: args.outputMode };
  const one = await StageHarness.open(args.make(), args.schema, options);
  const uninterrupted: Row[][] = [];
  for (const b of args.batches) uninterrupted.push((await one.batch(b)).rows);
  const restored: Row[][] = [];
  let harness = await StageHarness.open(args.make(), args.schema, options);
  const chains = new Map<string, StateImage[]>();
  for (const [i, b] of args.batches.entries()) {
    const outcome = await harness.batch(b);
    restored.push(outcome.rows);
    const states: Record<string, RecoveredState> = {};
    for (const [operatorId, state] of Object.entries(outcome.barrier.state)) {
      const image = throughJson(i % 3 === 0 ? state.snapshot() : state.delta());
      const chain = image.kind === 'snapshot' ? [image] : [...(chains.get(operatorId) ?? []), image];
      chains.set(operatorId, chain);
      states[operatorId] = {
        stage: chain[0]!.stage,
        load: async (target) => {
          target.restore(chain[0]!);
          for (const delta of chain.slice(1)) target.applyDelta(delta);
        },
      };
    }
    harness = await StageHarness.open(args.make(), args.schema, { ...options, recovered: { batchId: i, states } });
  }
  return { uninterrupted, restored };
}
