/**
 * Snapshots of operator state written beside the micro-batches, not in
 * their commits (Spark writes them from the state store's maintenance task):
 * a commit that brings an operator's chain to `minDeltasForSnapshot` deltas
 * still writes its delta, hands a copy of the state to {@link
 * BackgroundSnapshots.start}, and returns; once the snapshot's files are
 * durable under their names, a later commit takes it ({@link
 * BackgroundSnapshots.take}) and lists the chain from it. Until then the
 * chain of deltas stays listed, so a crash while a snapshot is written
 * loses nothing: the snapshot is a file no commit names.
 *
 * @module
 */

/** A snapshot whose files are durable, not yet listed by a commit. */
export interface DurableSnapshot<F> {
  /** The state version it images (`<version>.snapshot`). */
  readonly version: number;
  /** Its files, as a commit lists them. */
  readonly files: readonly F[];
}

/** The snapshots being written, one at most per operator, and those written. */
export class BackgroundSnapshots<F> {
  readonly #inFlight = new Map<string, Promise<void>>();
  readonly #durable = new Map<string, DurableSnapshot<F>>();
  readonly #onFailure: (operatorId: string, version: number, err: Error) => void;

  /** @param onFailure told of a snapshot that could not be written (the run goes on: its deltas stay listed) */
  constructor(onFailure: (operatorId: string, version: number, err: Error) => void = () => {}) {
    this.#onFailure = onFailure;
  }

  /** Whether a snapshot of `operatorId` is being written. */
  busy(operatorId: string): boolean {
    return this.#inFlight.has(operatorId);
  }

  /**
   * Starts writing the snapshot of `operatorId` at `version`: `write`
   * resolves with its files once they are durable. A failure only costs the
   * snapshot: the deltas stay listed, and a later commit starts another; it
   * is told to `onFailure`, so a disk that keeps failing is not silent.
   */
  start(operatorId: string, version: number, write: () => Promise<readonly F[]>): void {
    const written = write().then(
      (files) => {
        const before = this.#durable.get(operatorId);
        if (before === undefined || before.version < version) this.#durable.set(operatorId, { version, files });
      },
      (err: unknown) => this.#onFailure(operatorId, version, err as Error),
    );
    this.#inFlight.set(
      operatorId,
      written.finally(() => this.#inFlight.delete(operatorId)),
    );
  }

  /** The durable snapshot of `operatorId` no commit lists yet, handed over once (the caller lists it from now on); or null. */
  take(operatorId: string): DurableSnapshot<F> | null {
    const snapshot = this.#durable.get(operatorId) ?? null;
    this.#durable.delete(operatorId);
    return snapshot;
  }

  /** Resolves once no snapshot is being written (a closing checkpoint leaves no write behind). */
  async settled(): Promise<void> {
    await Promise.all([...this.#inFlight.values()]);
  }

  /** Forgets the snapshots written and not listed (a new run lists only what its commits list). */
  forget(): void {
    this.#durable.clear();
  }
}
