/**
 * `tidemark run` with NATS: `--input nats://HOST:PORT/STREAM` reads the
 * stream's partitions with the query options of a file input, `--output
 * nats://HOST:PORT/SUBJECT` publishes the rows; each input's own flags are
 * refused with the other input.
 */
import t from 'tap';
import { buildQuery, parseRunArgs } from '../../lib/cli/run.js';
import { JetStreamSource } from '../../lib/sources/jetstream-source.js';
import { JetStreamSink } from '../../lib/sinks/jetstream-sink.js';
import { FileSource } from '../../lib/sources/file-source.js';

const QUERY = ['--schema', 'time timestamp, action string', '--group-by', 'action', '--window', '1 hour', '--watermark', '2 hours', '--output-mode', 'append'];

t.test('--input nats://HOST:PORT/STREAM reads the stream, with --partitions, --max-offsets-per-trigger and --starting-offsets', async (t) => {
  const { options } = parseRunArgs(['--input', 'nats://127.0.0.1:4222,127.0.0.1:4223/events', ...QUERY, '--console', '--partitions', '0,1', '--max-offsets-per-trigger', '500', '--starting-offsets', 'latest']);
  const query = buildQuery(options!);
  t.type(query.source, JetStreamSource);
  const source = query.source as JetStreamSource;
  t.equal(source.stream, 'events');
  t.strictSame(source.partitions, [0, 1]);
  t.equal(source.description, 'JetStreamSource[events, partitions 0,1]');
  t.strictSame(source.fingerprint(), { jetStream: 'events', partitions: [0, 1] }, 'what is read, not where the servers are');
});

t.test('--output nats://HOST:PORT/SUBJECT publishes the rows to SUBJECT', async (t) => {
  const { options } = parseRunArgs(['--input', '.', ...QUERY, '--output', 'nats://127.0.0.1:4222/counts.hourly', '--checkpoint', 'chk']);
  const query = buildQuery(options!);
  t.type(query.source, FileSource);
  t.type(query.sink, JetStreamSink);
  t.equal((query.sink as JetStreamSink).subject, 'counts.hourly');
});

t.test("each input's own flags are refused with the other input", async (t) => {
  t.throws(() => parseRunArgs(['--input', 'nats://h:1/events', ...QUERY, '--console', '--max-files-per-trigger', '2']), {
    name: 'UsageError',
    message: 'flag --max-files-per-trigger applies to a file input, not to --input nats://h:1/events',
  });
  t.throws(() => parseRunArgs(['--input', 'data', ...QUERY, '--console', '--partitions', '0']), { name: 'UsageError', message: 'flag --partitions applies to a NATS input (--input nats://HOST:PORT/STREAM)' });
  t.throws(() => parseRunArgs(['--input', 'nats://h:1/events', ...QUERY, '--console', '--max-offsets-per-trigger', 'many']), { name: 'UsageError', message: "--max-offsets-per-trigger: 'many' is not an integer; write e.g. --max-offsets-per-trigger 10" });
});

t.test('a bad address or partition list is refused naming the flag', async (t) => {
  t.throws(() => buildQuery(parseRunArgs(['--input', 'nats://h:1/', ...QUERY, '--console']).options!), { code: 'ERR_INVALID_OPTION', option: 'input' });
  t.throws(() => buildQuery(parseRunArgs(['--input', 'nats://h:1/e', ...QUERY, '--console', '--partitions', 'one']).options!), { code: 'ERR_INVALID_OPTION', option: 'partitions' });
  t.throws(() => buildQuery(parseRunArgs(['--input', '.', ...QUERY, '--output', 'nats://h:1/a.*', '--checkpoint', 'c']).options!), { code: 'ERR_INVALID_OPTION', option: 'output' });
});
