/**
 * Preloaded into every measured child (`node --import dist-bench/probe.js …`):
 * when the process exits, writes its own whole-process figures as JSON to
 * the file named by `BENCH_REPORT` (or to stderr): wall time since the
 * process started, `process.resourceUsage().maxRSS` and CPU times. Loading
 * it costs well under a millisecond; it changes nothing else.
 *
 * @module
 */
import { writeFileSync } from 'node:fs';

/** What the probe writes. */
export interface ProbeReport {
  /** Milliseconds from the process's start (`performance.timeOrigin`) to exit. */
  readonly wallMs: number;
  /** Peak resident set size, KiB. */
  readonly maxRssKiB: number;
  readonly userMs: number;
  readonly systemMs: number;
  readonly exitCode: number;
}

process.on('exit', (exitCode) => {
  const usage = process.resourceUsage();
  const report: ProbeReport = {
    wallMs: performance.now(),
    maxRssKiB: usage.maxRSS,
    userMs: usage.userCPUTime / 1000,
    systemMs: usage.systemCPUTime / 1000,
    exitCode,
  };
  const target = process.env['BENCH_REPORT'];
  if (target !== undefined && target.length > 0) writeFileSync(target, JSON.stringify(report));
  else process.stderr.write(`probe: ${JSON.stringify(report)}\n`);
});
