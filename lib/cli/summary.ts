/**
 * What `tidemark run` says about a run: a progress line per micro-batch
 * (with `--progress`, or on a terminal) and one summary line at the end, on
 * every stderr, terminal or not.
 *
 * Both are honest about what they count. A stateful operator's
 * `numRowsDroppedByWatermark` is Spark's figure: an aggregation counts the
 * late rows of its partial aggregate, one per late group (window × key) and
 * micro-batch, not the input rows in it; a session window counts late
 * sessions; a deduplication counts rows. The lines say "groups",
 * "sessions" or "rows" accordingly, and the state is counted in groups
 * (windows × keys still open), sessions or keys.
 *
 * @module
 */
import type { StreamingQueryProgress } from '../query/progress.js';

/** What a stateful operator's rows are, by Spark's `operatorName`. */
function unitOf(operatorName: unknown): { state: string; late: string } {
  switch (operatorName) {
    case 'dedupe':
    case 'dedupeWithinWatermark':
      return { state: 'keys', late: 'late rows' };
    case 'sessionWindowStateStoreSaveExec':
      return { state: 'sessions', late: 'late sessions' };
    default:
      return { state: 'groups', late: 'late groups' };
  }
}

const count = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

function plural(n: number, one: string, many = one + 's'): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** `groups`→`group` for one; the units above all form their plural with an s. */
function unit(n: number, many: string): string {
  return `${n} ${n === 1 ? many.replace(/s$/, '') : many}`;
}

/** One micro-batch as the progress line prints it. */
export function progressLine(p: StreamingQueryProgress): string {
  const rate = Number.isFinite(p.processedRowsPerSecond) ? p.processedRowsPerSecond.toFixed(1) : '-';
  const parts = [`batch ${p.batchId}: ${plural(p.numInputRows, 'input row')}, ${rate} rows/s`, `watermark ${p.eventTime?.['watermark'] ?? '-'}`];
  for (const op of p.stateOperators) {
    const u = unitOf(op['operatorName']);
    parts.push(`state ${unit(count(op['numRowsTotal']), u.state)}, dropped ${unit(count(op['numRowsDroppedByWatermark']), u.late)}`);
  }
  return parts.join(', ');
}

/** Figures of a whole run, added up from its progress. */
export class RunTotals {
  batches = 0;
  rowsRead = 0;
  filesRead = 0;
  /** Whether the source counts files (a file source does; a NATS stream has none). */
  readsFiles = false;
  malformed = 0;
  written = 0;
  /** Per stateful operator, in pipeline order: late rows/groups dropped over the run. */
  readonly dropped: number[] = [];
  #last: StreamingQueryProgress | null = null;

  /** Adds one micro-batch's progress. */
  add(p: StreamingQueryProgress): void {
    this.batches++;
    this.rowsRead += p.numInputRows;
    const metrics = p.sources[0]?.metrics ?? {};
    if (metrics['numFilesRead'] !== undefined) {
      this.readsFiles = true;
      this.filesRead += Number(metrics['numFilesRead']) || 0;
    }
    this.malformed += Number(metrics['numMalformedRecords'] ?? 0) || 0;
    this.written += Math.max(0, p.sink.numOutputRows);
    p.stateOperators.forEach((op, i) => {
      this.dropped[i] = (this.dropped[i] ?? 0) + count(op['numRowsDroppedByWatermark']);
    });
    this.#last = p;
  }

  /**
   * The summary line (without `tidemark: ` and newline): files and rows
   * read, malformed rows, late rows (or groups) dropped, rows written, what
   * is still open in state, and the watermark (UTC).
   */
  summary(): string {
    const last = this.#last;
    const files = this.readsFiles ? `${plural(this.filesRead, 'file')}, ` : '';
    const parts = [`read ${files}${plural(this.rowsRead, 'row')} (${this.malformed} malformed)`];
    const ops = last?.stateOperators ?? [];
    if (ops.length > 0) {
      parts.push('dropped ' + ops.map((op, i) => unit(this.dropped[i] ?? 0, unitOf(op['operatorName']).late)).join(', '));
    } else {
      parts.push('dropped 0 late rows');
    }
    parts.push(`wrote ${plural(this.written, 'row')}`);
    for (const op of ops) {
      const u = unitOf(op['operatorName']);
      const open = count(op['numRowsTotal']);
      parts.push(u.state === 'keys' ? `${unit(open, 'keys')} in state` : `${unit(open, u.state)} still open`);
    }
    const watermark = last?.eventTime?.['watermark'];
    parts.push(watermark === undefined ? 'no watermark' : `watermark ${watermark} (UTC)`);
    return `${plural(this.batches, 'micro-batch', 'micro-batches')}: ${parts.join('; ')}`;
  }
}
