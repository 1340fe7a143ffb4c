/**
 * `tidemark publish`: each JSON line to `STREAM.<partition of its key>`,
 * acknowledged, the stream created when missing and refused when
 * partitioned otherwise; a server that is down is a coded error.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { main } from '../../lib/cli/publish.js';
import { partitionOfKeyText } from '../../lib/core/partition-hash.js';
import { natsSkip, startNats, type NatsServer } from './server.js';
import { client } from './helpers.js';
import type { JetStreamConnection } from '../../lib/nats/client.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const skip = natsSkip;
let server: NatsServer | null = null;
let conn: JetStreamConnection | null = null;
if (skip === false) {
  server = await startNats();
  conn = await client(server.url);
}
t.teardown(async () => {
  await conn?.close();
  await server?.stop();
});

function io(): { io: { stdout: { write: (s: string) => void }; stderr: { write: (s: string) => void } }; out: () => string } {
  let out = '';
  return { io: { stdout: { write: (s: string) => void (out += s) }, stderr: { write: () => undefined } }, out: () => out };
}

/** Every message of a stream as [subject, body], in sequence order. */
async function messages(stream: string): Promise<Array<[string, string]>> {
  const info = await conn!.jsm.streams.info(stream);
  const out: Array<[string, string]> = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const m = await conn!.jsm.streams.getMessage(stream, { seq });
    if (m !== null) out.push([m.subject, m.string()]);
  }
  return out;
}

const USERS = ['ana', 'bo', 'cy', 'dee', 'eli', 'fay'];

t.test('each line goes to STREAM.<partition of its key>, in file order, acknowledged', { skip }, async (t) => {
  const dir = t.testdir({ data: { 'b.json': '', 'a.json': '' } });
  const a = USERS.map((user, i) => JSON.stringify({ time: i, user })).join('\n') + '\n';
  await writeFile(join(dir, 'data', 'a.json'), a);
  await writeFile(join(dir, 'data', 'b.json'), '\r\n{"time":10,"user":"ana"}\r\n');
  const { io: out, out: text } = io();
  t.equal(await main(['--to', `${server!.url}/clicks`, '--partitions', '3', '--key', 'user', join(dir, 'data')], out), 0);
  const expected = [...USERS.map((user, i) => [`clicks.${partitionOfKeyText(user, 3)}`, JSON.stringify({ time: i, user })]), [`clicks.${partitionOfKeyText('ana', 3)}`, '{"time":10,"user":"ana"}']];
  t.strictSame(await messages('clicks'), expected, 'a.json, then b.json (name order); a blank line skipped; \\r\\n endings dropped');
  const perPartition = [0, 1, 2].map((p) => expected.filter(([s]) => s === `clicks.${p}`).length);
  t.equal(text(), `published 7 messages from 2 files to stream clicks at ${server!.url} (created); per partition 0: ${perPartition[0]}, 1: ${perPartition[1]}, 2: ${perPartition[2]}\n`);
  const info = await conn!.jsm.streams.info('clicks');
  t.strictSame(info.config.subjects, ['clicks.*']);
  t.equal(info.config.description, 'tidemark: 3 partitions by key "user" (Kafka\'s murmur2)');
});

t.test('publishing the same files again within the duplicate window adds nothing', { skip }, async (t) => {
  const dir = t.testdir({ 'e.json': '{"k":"x"}\n{"k":"y"}\n' });
  await main(['--to', `${server!.url}/again`, '--partitions', '2', '--key', 'k', join(dir, 'e.json')], io().io);
  const second = io();
  await main(['--to', `${server!.url}/again`, '--partitions', '2', '--key', 'k', join(dir, 'e.json')], second.io);
  t.match(second.out(), /; 2 already in the stream \(dropped as duplicates\)\n$/);
  t.equal((await conn!.jsm.streams.info('again')).state.messages, 2);
});

t.test('numbers, missing keys and lines that are not JSON objects are placed by their key text', { skip }, async (t) => {
  const dir = t.testdir({ 'm.json': '{"k":7}\n{"k":7.0}\n{"x":1}\nnot json\n[1]\n' });
  const out = io();
  await main(['--to', `${server!.url}/mixed`, '--partitions', '5', '--key', 'k', join(dir, 'm.json')], out.io);
  const seven = `mixed.${partitionOfKeyText('7', 5)}`;
  const none = `mixed.${partitionOfKeyText('null', 5)}`;
  t.strictSame((await messages('mixed')).map(([s]) => s), [seven, seven, none, none, none]);
  t.match(out.out(), /; 2 lines are not JSON objects \(sent where a null key goes\)\n$/);
});

t.test('.gz files are decompressed', { skip }, async (t) => {
  const dir = t.testdir();
  await writeFile(join(dir, 'z.json.gz'), gzipSync('{"k":"a"}\n{"k":"b"}\n'));
  await main(['--to', `${server!.url}/zipped`, '--partitions', '1', '--key', 'k', dir], io().io);
  t.strictSame((await messages('zipped')).map(([, b]) => b), ['{"k":"a"}', '{"k":"b"}']);
});

t.test('a stream partitioned otherwise is refused before anything is published', { skip }, async (t) => {
  const dir = t.testdir({ 'e.json': '{"k":"x"}\n' });
  await main(['--to', `${server!.url}/fixed`, '--partitions', '4', '--key', 'k', dir], io().io);
  await t.rejects(main(['--to', `${server!.url}/fixed`, '--partitions', '3', '--key', 'k', dir], io().io), {
    code: 'ERR_INVALID_OPTION',
    option: 'partitions',
    message: `stream 'fixed' has 4 partitions (by key "k"), not 3: publishing with another count would put a key's events in two partitions. Publish with --partitions 4, or to a new stream`,
  });
  await t.rejects(main(['--to', `${server!.url}/fixed`, '--partitions', '4', '--key', 'user', dir], io().io), { code: 'ERR_INVALID_OPTION', option: 'key' });
  t.equal((await conn!.jsm.streams.info('fixed')).state.messages, 1);
});

t.test('a publish with the server down exits 1 with ERR_NATS_UNAVAILABLE naming the address', async (t) => {
  const dir = t.testdir({ 'e.json': '{"k":"x"}\n' });
  const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [CLI, 'publish', '--to', 'nats://127.0.0.1:1/events', '--partitions', '2', '--key', 'k', '--connect-timeout', '500', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => resolve({ code, stderr }));
  });
  t.equal(result.code, 1);
  t.match(result.stderr, /^tidemark: cannot reach the NATS server at nats:\/\/127\.0\.0\.1:1 \(connection refused, ECONNREFUSED\) after \d+ attempts? over [\d.]+ s: is nats-server running there with JetStream \(nats-server -js\)\? \(code ERR_NATS_UNAVAILABLE\)\n$/);
});

t.test('the command line is checked: the address, the partitions, the key, the inputs', async (t) => {
  await t.rejects(main(['--partitions', '2', '--key', 'k', 'x'], io().io), { name: 'UsageError', message: 'missing required flag --to' });
  await t.rejects(main(['--to', 'nats://h:1/s', '--key', 'k', 'x'], io().io), { name: 'UsageError', message: 'missing required flag --partitions' });
  await t.rejects(main(['--to', 'nats://h:1/s', '--partitions', '2', 'x'], io().io), { name: 'UsageError', message: 'missing required flag --key' });
  await t.rejects(main(['--to', 'nats://h:1/s', '--partitions', '2', '--key', 'k'], io().io), { name: 'UsageError', message: /^missing FILES_OR_DIRS/ });
  await t.rejects(main(['--to', 'http://h:1/s', '--partitions', '2', '--key', 'k', '.'], io().io), { code: 'ERR_INVALID_OPTION', option: 'to', message: "to must be nats://HOST:PORT/STREAM, got 'http://h:1/s'" });
  await t.rejects(main(['--to', 'nats://h:1/a.b', '--partitions', '2', '--key', 'k', '.'], io().io), { code: 'ERR_INVALID_OPTION', option: 'to' });
  await t.rejects(main(['--to', 'nats://h:1/s', '--partitions', '0', '--key', 'k', '.'], io().io), { code: 'ERR_INVALID_OPTION', option: 'partitions' });
  await t.rejects(main(['--to', 'nats://h:1/s', '--partitions', '2', '--key', 'k', '/no/such/dir'], io().io), { code: 'ERR_PATH_NOT_FOUND' });
  const help = io();
  t.equal(await main(['--help'], help.io), 0);
  t.match(help.out(), /^Usage: tidemark publish --to nats:\/\/HOST:PORT\/STREAM --partitions P --key COL/);
});
