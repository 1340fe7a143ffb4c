/**
 * `tidemark run` ends with one summary line on every stderr (its figures
 * are specified in explain.test.ts): tests about the rest of stderr take
 * it off with {@link withoutSummary}, which fails when it is missing.
 */

/** The summary line: `tidemark: 3 micro-batches: read 2 files, …` (a NATS input has no files: `read 10 rows …`). */
export const SUMMARY_LINE = /^tidemark: \d+ micro-batch(?:es)?: read (?:\d+ files?, )?\d+ rows? \([^\n]*\n$/;

/** stderr without its last line, the run's summary; throws when that line is not there. */
export function withoutSummary(stderr: string): string {
  const start = stderr.lastIndexOf('\n', stderr.length - 2) + 1;
  const last = stderr.slice(start);
  if (!SUMMARY_LINE.test(last)) throw new Error(`stderr does not end with the run summary: ${JSON.stringify(stderr)}`);
  return stderr.slice(0, start);
}
