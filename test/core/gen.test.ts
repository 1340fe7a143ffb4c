import t from 'tap';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ACTIONS,
  GEN_DEFAULTS,
  generateDataset,
  generateLines,
  MAX_OUT_OF_ORDER_SECONDS,
  partFileName,
} from '../../lib/gen.js';

/** Matches the whole message, not a substring (t.throws' string patterns are substrings). */
const exactly = (message: string) => new RegExp('^' + message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '$');

const readAll = (files: string[]) => Promise.all(files.map((f) => readFile(f)));

t.test('the same seed writes the same bytes', async (t) => {
  const dir = t.testdir({});
  const a = await generateDataset(join(dir, 'a'), { files: 3, lines: 500, seed: 7 });
  const b = await generateDataset(join(dir, 'b', 'nested'), { files: 3, lines: 500, seed: 7 });
  t.strictSame(await readAll(b.files), await readAll(a.files));
});

t.test('a different seed writes different bytes', async (t) => {
  const dir = t.testdir({});
  const a = await generateDataset(join(dir, 'a'), { files: 1, lines: 500, seed: 7 });
  const b = await generateDataset(join(dir, 'b'), { files: 1, lines: 500, seed: 8 });
  t.notSame((await readAll(b.files))[0], (await readAll(a.files))[0]);
});

t.test('generateLines yields exactly the lines the files hold, file by file', async (t) => {
  const options = { files: 2, lines: 300, seed: 3 };
  const { files, events } = await generateDataset(t.testdir({}), options);
  t.equal(events, 600);
  const lines = [...generateLines(options)];
  t.equal(lines.length, 600);
  const contents = (await readAll(files)).map((b) => b.toString('utf8'));
  t.equal(contents[0], lines.slice(0, 300).join('\n') + '\n');
  t.equal(contents[1], lines.slice(300).join('\n') + '\n');
});

t.test('every line is {"time":<integer>,"action":"<Open|Close|Click|Scroll>"} without spaces', async (t) => {
  const shape = /^\{"time":[0-9]+,"action":"(Open|Close|Click|Scroll)"\}$/;
  let bad = 0;
  for (const line of generateLines({ files: 4, lines: 2500 })) {
    const parsed = JSON.parse(line) as Record<string, unknown>;
    if (!shape.test(line) || Object.keys(parsed).join() !== 'time,action' || !Number.isSafeInteger(parsed.time)) bad++;
  }
  t.equal(bad, 0);
});

t.test('the four actions are about equally likely', async (t) => {
  const counts = new Map<string, number>(ACTIONS.map((a) => [a, 0]));
  for (const line of generateLines({ files: 4, lines: 10_000 })) {
    const action = (JSON.parse(line) as { action: string }).action;
    counts.set(action, counts.get(action)! + 1);
  }
  for (const [action, n] of counts) t.ok(n > 9_200 && n < 10_800, `${action}: ${n} of 40000`);
});

t.test('event times start at startEpochSeconds, run about one per second and are out of order by at most MAX_OUT_OF_ORDER_SECONDS', async (t) => {
  let first: number | undefined;
  let min = Infinity;
  let max = -Infinity;
  let worstLateness = 0;
  let late = 0;
  for (const line of generateLines({ files: 10, lines: 1000 })) {
    const time = (JSON.parse(line) as { time: number }).time;
    first ??= time;
    if (time < max) {
      late++;
      worstLateness = Math.max(worstLateness, max - time);
    }
    min = Math.min(min, time);
    max = Math.max(max, time);
  }
  t.equal(first, GEN_DEFAULTS.startEpochSeconds);
  t.equal(min, GEN_DEFAULTS.startEpochSeconds);
  t.ok(max - min > 9_000 && max - min < 11_000, `10000 events span ${max - min} s`);
  t.ok(worstLateness > 0 && worstLateness <= MAX_OUT_OF_ORDER_SECONDS, `worst lateness ${worstLateness} s`);
  t.ok(late > 500, `${late} of 10000 events out of order`);
});

t.test('files are named part-NNNNN.json with mtimes one second apart in name order', async (t) => {
  const dir = t.testdir({});
  const firstMtimeMs = 1_700_000_000_000;
  const { files } = await generateDataset(dir, { files: 4, lines: 10, firstMtimeMs });
  t.strictSame(files, [0, 1, 2, 3].map((i) => join(dir, partFileName(i))));
  t.strictSame(await readdir(dir), ['part-00000.json', 'part-00001.json', 'part-00002.json', 'part-00003.json']);
  const mtimes = await Promise.all(files.map(async (f) => Number((await stat(f, { bigint: true })).mtimeNs / 1_000_000n)));
  t.strictSame(mtimes, [0, 1, 2, 3].map((i) => firstMtimeMs + i * 1000));
});

t.test('the default mtimes end at the current second', async (t) => {
  const before = Date.now();
  const { files } = await generateDataset(t.testdir({}), { files: 3, lines: 1 });
  const last = (await stat(files[2]!)).mtimeMs;
  t.ok(last <= Date.now() && last > before - 2000, 'last file mtime is now (whole seconds)');
});

t.test('option values are validated', async (t) => {
  const dir = t.testdir({});
  await t.rejects(generateDataset(dir, { files: 0 }), {
    code: 'ERR_INVALID_OPTION',
    option: 'files',
    message: exactly("Invalid value '0' for option 'files', must be a positive integer"),
  });
  t.throws(() => [...generateLines({ lines: 1.5 })], {
    code: 'ERR_INVALID_OPTION',
    option: 'lines',
    message: exactly("Invalid value '1.5' for option 'lines', must be a positive integer"),
  });
  t.throws(() => [...generateLines({ startEpochSeconds: -1 })], {
    option: 'startEpochSeconds',
    message: exactly("Invalid value '-1' for option 'startEpochSeconds', must be a non-negative integer"),
  });
  t.throws(() => [...generateLines({ seed: Number.NaN })], {
    option: 'seed',
    message: exactly("Invalid value 'NaN' for option 'seed', must be an integer"),
  });
});

t.test('a directory that cannot be created is reported with ERR_FILE_SOURCE', async (t) => {
  const dir = t.testdir({ 'a-file': 'x' });
  await t.rejects(generateDataset(join(dir, 'a-file', 'sub'), { files: 1, lines: 1 }), {
    code: 'ERR_FILE_SOURCE',
    file: join(dir, 'a-file', 'sub'),
  });
});
