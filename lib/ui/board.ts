/**
 * What the live view shows: every run of a manager's queries, active and
 * finished, as JSON-ready views, and the events that change them. The HTTP
 * side (`server.ts`) only serialises these.
 *
 * A manager forgets a query when it ends; the board keeps it (up to
 * {@link FINISHED_RUNS_KEPT} finished runs), as Spark's UI keeps completed
 * queries.
 *
 * @module
 */
import type { StreamingQuery, StreamingQueryListener, StreamingQueryManager } from '../query/streaming-query.js';
import type { StreamingQueryProgress } from '../query/progress.js';
import type { ExecutionStatus as SourceStatus } from '../query/executor.js';
import type { TidemarkError } from '../errors.js';
import { showCell } from '../core/show.js';

/** Finished runs the board keeps, oldest forgotten first. */
export const FINISHED_RUNS_KEPT = 100;

/** Where a run is: Spark UI's status column. */
export type RunState = 'RUNNING' | 'FINISHED' | 'FAILED';

/** One run of a query, as `GET /api/queries` lists it. */
export interface QueryView {
  readonly id: string;
  readonly runId: string;
  readonly name: string | null;
  /** RUNNING, FINISHED (stopped or ended) or FAILED. */
  readonly state: RunState;
  /** Spark's `StreamingQueryStatus`: `message`, `isDataAvailable`, `isTriggerActive`. */
  readonly status: SourceStatus;
  /** Epoch ms. */
  readonly startedAtMs: number;
  /** Epoch ms, or null while running. */
  readonly endedAtMs: number | null;
  /** The failure's message, or null. */
  readonly exception: string | null;
  /** Spark's `StreamingQueryProgress` JSON, oldest first, up to the query's last 100. */
  readonly recentProgress: readonly StreamingQueryProgress[];
}

/** The latest output rows as `show()` would print their cells. */
export interface OutputTable {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

/** A run with what its page shows besides progress. */
export interface QueryDetail extends QueryView {
  /** `explain()`: one line per operator. */
  readonly plan: string;
  /** Up to 20 rows of the last batch that wrote rows. */
  readonly output: OutputTable;
}

/** What changes a board, in order. */
export type BoardEvent =
  | { readonly kind: 'started'; readonly query: QueryDetail }
  | {
      readonly kind: 'progress';
      readonly runId: string;
      readonly progress: StreamingQueryProgress;
      readonly status: SourceStatus;
      readonly output: OutputTable;
    }
  | {
      readonly kind: 'terminated';
      readonly runId: string;
      readonly state: RunState;
      readonly status: SourceStatus;
      readonly endedAtMs: number;
      readonly exception: string | null;
    };

interface Run {
  readonly id: string;
  readonly runId: string;
  /** Dropped when the run ends, so that a finished query's source and sink can be collected. */
  query: StreamingQuery | null;
  endedAtMs: number | null;
  failure: TidemarkError | null;
  /** A finished run's last view: computed once, as nothing changes any more. */
  final: QueryDetail | null;
}

/**
 * Watches a manager: the queries active now and every query started later.
 * `close()` stops watching.
 */
export class QueryBoard {
  readonly #manager: StreamingQueryManager;
  readonly #timeZone: string;
  readonly #runs = new Map<string, Run>();
  readonly #subscribers = new Set<(event: BoardEvent) => void>();
  readonly #listener: StreamingQueryListener;

  constructor(manager: StreamingQueryManager, options: { timeZone: string }) {
    this.#manager = manager;
    this.#timeZone = options.timeZone;
    for (const query of manager.active) this.#add(query);
    // The manager relays progress and termination of queries already active too, so one listener covers all.
    this.#listener = {
      onQueryStarted: (query) => {
        this.#add(query);
        this.#publish({ kind: 'started', query: this.#detail(this.#runs.get(query.runId)!) });
      },
      onQueryProgress: (query, progress) => {
        if (!this.#runs.has(query.runId)) return;
        this.#publish({ kind: 'progress', runId: query.runId, progress, status: query.status, output: this.#output(query) });
      },
      onQueryTerminated: (query, exception) => {
        const run = this.#runs.get(query.runId);
        if (run === undefined) return;
        run.endedAtMs = Date.now();
        run.failure = exception;
        run.final = this.#detail(run);
        run.query = null;
        this.#forgetOldFinished();
        this.#publish({
          kind: 'terminated',
          runId: query.runId,
          state: stateOf(run),
          status: query.status,
          endedAtMs: run.endedAtMs,
          exception: exception?.message ?? null,
        });
      },
    };
    manager.addListener(this.#listener);
  }

  /** Every run, in start order. */
  list(): QueryView[] {
    return [...this.#runs.values()].map((run) => this.#view(run));
  }

  /** Every run with its plan and output, in start order. */
  details(): QueryDetail[] {
    return [...this.#runs.values()].map((run) => this.#detail(run));
  }

  /** The run with this run id, or the latest run of the query with this id. */
  find(id: string): QueryDetail | null {
    const run = this.#runs.get(id) ?? [...this.#runs.values()].reverse().find((r) => r.id === id);
    return run === undefined ? null : this.#detail(run);
  }

  /** Calls `fn` with every later event; returns the unsubscribe function. */
  subscribe(fn: (event: BoardEvent) => void): () => void {
    this.#subscribers.add(fn);
    return () => this.#subscribers.delete(fn);
  }

  /** Stops watching the manager. */
  close(): void {
    this.#manager.removeListener(this.#listener);
    this.#subscribers.clear();
  }

  #add(query: StreamingQuery): void {
    if (this.#runs.has(query.runId)) return;
    const ended = !query.isActive;
    const run: Run = { id: query.id, runId: query.runId, query, endedAtMs: ended ? Date.now() : null, failure: query.exception, final: null };
    if (ended) {
      run.final = this.#detail(run);
      run.query = null;
    }
    this.#runs.set(query.runId, run);
  }

  #forgetOldFinished(): void {
    const finished = [...this.#runs.values()].filter((r) => r.endedAtMs !== null);
    for (const run of finished.slice(0, Math.max(0, finished.length - FINISHED_RUNS_KEPT))) this.#runs.delete(run.runId);
  }

  #publish(event: BoardEvent): void {
    for (const fn of this.#subscribers) {
      try {
        fn(event);
      } catch {
        // A broken page connection must not stop the others, nor the query.
      }
    }
  }

  #view(run: Run): QueryView {
    if (run.final !== null) {
      const { plan: _plan, output: _output, ...view } = run.final;
      return view;
    }
    const q = run.query!; // a run loses its query only once its final view is taken
    return {
      id: q.id,
      runId: q.runId,
      name: q.name,
      state: stateOf(run),
      status: q.status,
      startedAtMs: q.startedAtMs,
      endedAtMs: run.endedAtMs,
      exception: run.failure?.message ?? null,
      recentProgress: q.recentProgress,
    };
  }

  #detail(run: Run): QueryDetail {
    if (run.final !== null) return run.final;
    const q = run.query!;
    return { ...this.#view(run), plan: q.explain(), output: this.#output(q) };
  }

  #output(query: StreamingQuery): OutputTable {
    const rows = query.recentOutput;
    const schema = query.outputSchema;
    if (schema === null) {
      // Before the run opened there is no schema; nor any output.
      const columns = rows.length === 0 ? [] : Object.keys(rows[0]!);
      return { columns, rows: rows.map((r) => columns.map((c) => JSON.stringify(r[c]) ?? 'NULL')) };
    }
    const fields = schema.fields;
    return {
      columns: fields.map((f) => f.name),
      rows: rows.map((r) => fields.map((f) => showCell(r[f.name], f.dataType, this.#timeZone))),
    };
  }
}

function stateOf(run: Run): RunState {
  if (run.endedAtMs === null && run.query?.isActive === true) return 'RUNNING';
  return run.failure === null && (run.query?.exception ?? null) === null ? 'FINISHED' : 'FAILED';
}
