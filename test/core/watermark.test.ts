import t from 'tap';
import { EventTimeStats, WatermarkTracker, parseWatermarkPolicy } from '../../lib/core/watermark.js';

function statsOf(...secondsValues: number[]): EventTimeStats {
  const s = new EventTimeStats();
  for (const v of secondsValues) s.add(v * 1000);
  return s;
}

t.test('the watermark is max event time minus delay, starts at 0 and never decreases', async (t) => {
  const tracker = new WatermarkTracker();
  t.equal(tracker.watermarkMs, 0);
  t.equal(tracker.update([{ delayMs: 10_000, stats: statsOf(15) }]), 5000);
  t.equal(tracker.update([{ delayMs: 10_000, stats: statsOf(10, 12) }]), 5000);
  t.equal(tracker.update([{ delayMs: 10_000, stats: statsOf(25) }]), 15000);
  t.equal(tracker.update([{ delayMs: 10_000, stats: new EventTimeStats() }]), 15000);
});

t.test('a candidate below 0 leaves the global watermark at 0', async (t) => {
  const tracker = new WatermarkTracker();
  t.equal(tracker.update([{ delayMs: 10_000, stats: statsOf(3) }]), 0);
});

t.test('average is truncated to milliseconds', async (t) => {
  const s = new EventTimeStats();
  s.add(1);
  s.add(2);
  t.equal(s.avg, 1);
});

type Step = { first?: number[]; second?: number[]; restart?: boolean; expected_global_watermark_ms: number };

// etw_two_streams_min_policy from Spark's EventTimeWatermarkSuite ("watermark with 2 streams").
const twoStreamSteps: Step[] = [
  { first: [11], second: [], expected_global_watermark_ms: 0 },
  { first: [], second: [6], expected_global_watermark_ms: 1000 },
  { first: [], second: [8], expected_global_watermark_ms: 1000 },
  { first: [21], second: [], expected_global_watermark_ms: 3000 },
  { first: [], second: [17, 28, 39], expected_global_watermark_ms: 11000 },
  { first: [31], second: [], expected_global_watermark_ms: 21000 },
  { first: [41], second: [], expected_global_watermark_ms: 31000 },
  { first: [51], second: [], expected_global_watermark_ms: 34000 },
  { first: [100], second: [100], expected_global_watermark_ms: 90000 },
  { first: [120], second: [110], expected_global_watermark_ms: 105000 },
  { first: [130], second: [125], expected_global_watermark_ms: 120000 },
  { first: [100], second: [100], expected_global_watermark_ms: 120000 },
  { first: [140], second: [100], expected_global_watermark_ms: 120000 },
  { first: [100], second: [135], expected_global_watermark_ms: 130000 },
  { first: [200], second: [190], expected_global_watermark_ms: 185000 },
  { restart: true, first: [], second: [], expected_global_watermark_ms: 185000 },
  { first: [], second: [200], expected_global_watermark_ms: 185000 },
  { first: [200], second: [], expected_global_watermark_ms: 190000 },
];

t.test('two watermarked inputs under the min policy follow Spark step by step, restart included', async (t) => {
  let tracker = new WatermarkTracker('min');
  for (const [i, step] of twoStreamSteps.entries()) {
    if (step.restart === true) tracker = WatermarkTracker.restore(tracker.snapshot());
    // A step that adds no data runs no batch.
    if ((step.first?.length ?? 0) + (step.second?.length ?? 0) > 0) {
      tracker.update([
        { delayMs: 10_000, stats: statsOf(...(step.first ?? [])) },
        { delayMs: 5_000, stats: statsOf(...(step.second ?? [])) },
      ]);
    }
    // Spark's test helper adds a dummy 0 to the first input and processes again after each step.
    tracker.update([
      { delayMs: 10_000, stats: statsOf(0) },
      { delayMs: 5_000, stats: new EventTimeStats() },
    ]);
    t.equal(tracker.watermarkMs, step.expected_global_watermark_ms, `step ${i}`);
  }
});

t.test('max and min policies choose differently, and the checkpointed policy wins on restart', async (t) => {
  // etw_multiple_watermark_policy_max_and_min
  for (const policy of ['max', 'min'] as const) {
    let tracker = new WatermarkTracker(policy);
    tracker.update([
      { delayMs: 10_000, stats: statsOf(20) },
      { delayMs: 15_000, stats: statsOf(30) },
    ]);
    t.equal(tracker.watermarkMs / 1000, policy === 'max' ? 15 : 10, `${policy} step 0`);
    tracker = WatermarkTracker.restore(tracker.snapshot());
    t.equal(tracker.policy, policy);
    t.equal(tracker.watermarkMs / 1000, policy === 'max' ? 15 : 10, `${policy} after restart`);
    tracker.update([
      { delayMs: 10_000, stats: statsOf(120) },
      { delayMs: 15_000, stats: statsOf(130) },
    ]);
    t.equal(tracker.watermarkMs / 1000, policy === 'max' ? 115 : 110, `${policy} step 2`);
    // Spark's max test adds 150 to input1, its min test to input2: only one input advances.
    tracker.update(
      policy === 'max'
        ? [
            { delayMs: 10_000, stats: statsOf(150) },
            { delayMs: 15_000, stats: new EventTimeStats() },
          ]
        : [
            { delayMs: 10_000, stats: new EventTimeStats() },
            { delayMs: 15_000, stats: statsOf(150) },
          ],
    );
    t.equal(tracker.watermarkMs / 1000, policy === 'max' ? 140 : 110, `${policy} step 3`);
  }
});

t.test('policy names are validated with Spark message', async (t) => {
  t.equal(parseWatermarkPolicy('MAX'), 'max');
  for (const bad of ['', 'random']) {
    t.throws(() => parseWatermarkPolicy(bad), {
      code: 'ERR_INVALID_WATERMARK_POLICY',
      message: `Invalid value for spark.sql.streaming.multipleWatermarkPolicy: '${bad}'. Valid values are 'min' and 'max'`,
    });
  }
});
