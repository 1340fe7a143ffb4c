/**
 * Recipe: sessions per user from a clickstream, with a chart of their
 * lengths (beyond the notebook: Spark 3.2's `session_window`).
 *
 * What Spark does:
 * ```python
 * clicks.withWatermark("time", "30 minutes") \
 *   .groupBy(col("user"), session_window(col("time"), "10 minutes")).count()
 * ```
 * A session runs from a user's first event to their last event + 10
 * minutes; an event within 10 minutes of the session's last one extends it
 * (and may join two sessions into one). In append mode a session is written
 * once, when the watermark passes its end.
 *
 * What this recipe does: reads a generated clickstream (60 users, 4 visits
 * each, events 0–120 s apart within a visit, 20–60 minutes between visits)
 * 400 events per micro-batch, counts the events of each session into JSON
 * files, drained at the end so the last sessions are written too, then
 * reads the sessions back: a summary, one user's sessions, and a chart of
 * the mean and longest session length per user (`chart.svg`, `chart.png`).
 *
 * What to look at: 240 sessions, one per visit: the pauses between visits
 * (20 minutes or more) are longer than the gap, the pauses within a visit
 * (2 minutes at most) shorter. A session's length is its last event − its
 * first + the 10-minute gap, so none is shorter than 10 minutes.
 *
 * @module
 */
import { join } from 'node:path';
import { FileSource, ParseSchema, SessionWindow, Watermark, Types, startQuery, type Schema } from 'tidemark';
import { WINDOW_TYPE, showString } from 'tidemark/internals';
// Charts load Vega: they live in their own entry point, so importing 'tidemark' stays light.
import { plotRows, readChartRows } from 'tidemark/plot';
import { CLICKSTREAM_SCHEMA, printer, runIfMain, setUpClickstream, type Recipe, type RecipeOptions } from './common.js';

/** Where the recipe wrote, and what it read back. */
export interface SessionsResult {
  readonly checkpointLocation: string;
  readonly outputDir: string;
  readonly svg: string;
  readonly png: string;
  /** Every session written: user, start and end (epoch ms), events. */
  readonly sessions: ReadonlyArray<{ user: string; startMs: number; endMs: number; events: number }>;
}

const GAP_MINUTES = 10;

/** Runs the recipe. */
export async function run(options: RecipeOptions = {}): Promise<SessionsResult> {
  const { dataDir, workDir, out, timeZone, makeJsonSink } = await setUpClickstream('sessions-per-user', options);
  const say = printer(out);
  const checkpointLocation = join(workDir, 'checkpoint');
  const outputDir = join(workDir, 'output');

  const query = await startQuery({
    name: 'sessions',
    source: new FileSource({ path: dataDir, maxFilesPerTrigger: 4 }),
    stages: [
      new ParseSchema({ schema: CLICKSTREAM_SCHEMA, timeZone }),
      new Watermark({ eventTime: 'time', delay: '30 minutes' }),
      new SessionWindow({ timeColumn: 'time', gap: `${GAP_MINUTES} minutes`, groupBy: ['user', 'session_window'], aggregates: 'count AS events' }),
    ],
    sink: makeJsonSink({ path: outputDir, timeZone }),
    checkpointLocation,
    outputMode: 'append',
    // Bounded, then drained: the sessions still open when the input ends are written too.
    trigger: 'availableNow',
    drain: true,
  });
  await query.awaitTermination();

  const sessions = (await readChartRows(outputDir))
    .map((r) => {
      const w = r['session_window'] as { start: string; end: string };
      return { user: r['user'] as string, startMs: Date.parse(w.start), endMs: Date.parse(w.end), events: r['events'] as number };
    })
    .sort((a, b) => (a.user < b.user ? -1 : a.user > b.user ? 1 : a.startMs - b.startMs));
  const minutes = (s: { startMs: number; endMs: number }): number => (s.endMs - s.startMs) / 60_000;
  const users = [...new Set(sessions.map((s) => s.user))];
  const longest = sessions.reduce((a, b) => (minutes(b) > minutes(a) ? b : a));
  const mean = sessions.reduce((n, s) => n + minutes(s), 0) / sessions.length;
  say(
    `${sessions.length} sessions of ${users.length} users (gap ${GAP_MINUTES} minutes): ${sessions.reduce((n, s) => n + s.events, 0)} events;`,
    `a session lasts ${minutes(sessions.reduce((a, b) => (minutes(b) < minutes(a) ? b : a))).toFixed(1)} to ${minutes(longest).toFixed(1)} minutes, ${mean.toFixed(1)} on average;`,
    `the longest is ${longest.user}'s, with ${longest.events} events.`,
    '',
  );

  const first = users[0]!;
  say(`The sessions of ${first}, as show(truncate=False) prints them:`, '');
  const schema: Schema = {
    fields: [
      { name: 'user', dataType: Types.string, nullable: true },
      { name: 'session_window', dataType: WINDOW_TYPE, nullable: true },
      { name: 'events', dataType: Types.long, nullable: true },
      { name: 'minutes', dataType: Types.double, nullable: true },
    ],
  };
  const mine = sessions.filter((s) => s.user === first).map((s) => [s.user, { start: s.startMs, end: s.endMs }, s.events, Math.round(minutes(s) * 10) / 10]);
  out.write(showString(schema, mine, { truncate: false, timeZone }) + '\n');

  // One point per user and series: x = user, y = minutes.
  const points = users.flatMap((user) => {
    const own = sessions.filter((s) => s.user === user).map(minutes);
    return [
      { user, length: 'mean', minutes: Math.round((own.reduce((n, m) => n + m, 0) / own.length) * 10) / 10 },
      { user, length: 'longest', minutes: Math.max(...own) },
    ];
  });
  const svg = join(workDir, 'chart.svg');
  const png = join(workDir, 'chart.png');
  const chart = { x: 'user', series: 'length', y: 'minutes', xType: 'ordinal' as const, width: 900, title: `session length per user (minutes; gap ${GAP_MINUTES} minutes)` };
  await plotRows(points, { ...chart, output: svg });
  await plotRows(points, { ...chart, output: png });
  say(`Drew the mean and the longest session length of each of the ${users.length} users into chart.svg and chart.png in the work directory.`);
  return { checkpointLocation, outputDir, svg, png, sessions };
}

/** This recipe, for the runner. */
export const recipe: Recipe = { name: 'sessions-per-user', summary: 'session windows: visits per user from a clickstream, and a chart of their lengths', run, data: 'clickstream' };

runIfMain(import.meta.url, recipe);
