/**
 * Rows typed from their schema: the TypeScript compiler reads a Spark DDL
 * string literal and computes the row type, so a misspelt column or a
 * string where a timestamp goes is a compile error, not a null at run time.
 *
 * ```ts
 * type Event = RowOf<'time timestamp, action string, temperature double'>
 * //   { time: number | null; action: string | null; temperature: number | null }
 * ```
 *
 * Two types per schema, because what a program reads and what it may write
 * differ (see `RecordBatch.rows()` / `RecordBatch.fromRows()`):
 *
 * | DDL type | {@link RowOf} (the row view, what you read) | {@link InputRowOf} (what `addData`/`mapRows` take) |
 * |---|---|---|
 * | `timestamp`, `timestamp_ltz`, `timestamp_ntz` | `number` (epoch ms) | `number` (epoch ms), `Date`, `bigint` (epoch µs) |
 * | `date` | `string` (`'YYYY-MM-DD'`) | `string`, `Date`, `number` (days) |
 * | `tinyint`/`byte`, `smallint`/`short`, `int`/`integer`, `float`/`real`, `double` | `number` | `number` |
 * | `bigint`/`long` | `number \| bigint` (a `sum` at or past 2^53 is a `bigint`; parsed values and counts are numbers) | `number` |
 * | `decimal(p,s)` | `string` (exactly `s` digits) | `string` |
 * | `string`, `char(n)`, `varchar(n)` | `string` | `string` |
 * | `boolean` | `boolean` | `boolean` |
 * | `binary` | `Uint8Array` | `Uint8Array` |
 * | `array<T>` | `(T \| null)[]` | `readonly (T \| null)[]` |
 * | `map<K, V>` | `Map<K, V \| null>` | `ReadonlyMap<K, V \| null>` |
 * | `struct<a: T, …>` | `{ a: T \| null; … }` | `{ a?: T \| null; … }` |
 *
 * Every column is `… | null` unless declared `NOT NULL` (and a missing
 * nullable property is null on input, so it is optional there). Keywords
 * are case-insensitive, names keep their case, back-quoted names
 * (`` `event time` timestamp ``) work, `COMMENT '…'` is ignored. A type the
 * compiler cannot read (an unknown type word) is `unknown`; a string it
 * cannot parse at all (SQL comments, a `string` that is not a literal)
 * gives the untyped {@link Row}, never a false error.
 *
 * Sources, stages and sinks that take a DDL literal carry it:
 * `new MemorySource({ schema: 'time timestamp, action string' }).addData(…)`,
 * `filterRows((row) => …, { schema: '…' })`, `new MemorySink({ schema: '…' }).rows()`;
 * `RowOf<typeof source>` reads the row type of any of them back.
 *
 * Types only: this module has no run-time code.
 *
 * @module
 */
import type { Row } from './batch.js';

/**
 * What a source, stage or sink typed by a DDL literal carries (at the type
 * level only: no such property exists at run time): the row type it reads or
 * writes. {@link RowOf} and {@link InputRowOf} read it back from the object.
 */
export interface RowTyped<R, I = R> {
  /** Type-level only: the rows this object produces (never set). */
  readonly '~row'?: R;
  /** Type-level only: the rows this object takes (never set). */
  readonly '~input'?: I;
}

/**
 * The row a schema's rows are read as (the row view: `batch.rows()`,
 * `MemorySink.rows()`, `filterRows`' argument), from a DDL string literal or
 * from a typed source, stage or sink (`RowOf<typeof source>`).
 *
 * @example
 * ```ts
 * const row: RowOf<'time timestamp, action string'> = { time: Date.parse('2016-07-26T03:00:00Z'), action: 'Open' }
 * ```
 */
export type RowOf<S extends string | RowTyped<unknown, unknown>> = S extends string
  ? string extends S
    ? Row
    : DdlRow<S, 'out'>
  : S extends RowTyped<infer R, unknown>
    ? unknown extends R
      ? Row
      : R
    : Row;

/**
 * The row a schema's rows may be given as (`MemorySource.addData`,
 * `mapRows`' result, `RecordBatch.fromRows`): timestamps as epoch ms, `Date`s
 * or µs `bigint`s, nullable columns optional.
 */
export type InputRowOf<S extends string | RowTyped<unknown, unknown>> = S extends string
  ? string extends S
    ? Row
    : DdlRow<S, 'in'>
  : S extends RowTyped<unknown, infer I>
    ? unknown extends I
      ? Row
      : I
    : Row;

/** A row type with every property nullable: what a file source makes of a schema (it forces every field nullable, as Spark does). */
export type NullableRow<R> = R extends Row ? { [K in keyof R]: R[K] | null } : R;

// ---------------------------------------------------------------------------
// The DDL reader, at the type level. Spark's grammar (see ddl.ts), read with
// template-literal types: split the column list at commas outside <…>, (…)
// and quotes, read each column's name, type and NOT NULL.

type Mode = 'out' | 'in';

type Space = ' ' | '\t' | '\n' | '\r';
type TrimStart<S extends string> = S extends `${Space}${infer R}` ? TrimStart<R> : S;
type TrimEnd<S extends string> = S extends `${infer R}${Space}` ? TrimEnd<R> : S;
type Trim<S extends string> = TrimEnd<TrimStart<S>>;

type Letter =
  | 'a' | 'b' | 'c' | 'd' | 'e' | 'f' | 'g' | 'h' | 'i' | 'j' | 'k' | 'l' | 'm'
  | 'n' | 'o' | 'p' | 'q' | 'r' | 's' | 't' | 'u' | 'v' | 'w' | 'x' | 'y' | 'z';
type WordChar = Letter | Uppercase<Letter> | '0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9' | '_';

/** Marks a piece the reader could not parse. */
interface Unreadable {
  readonly '~unreadable': true;
}

/** `[word, rest]`: the leading identifier characters of `S`. */
type TakeWord<S extends string, Acc extends string = ''> = S extends `${infer C}${infer R}`
  ? C extends WordChar
    ? TakeWord<R, `${Acc}${C}`>
    : [Acc, S]
  : [Acc, S];

/** How many times `C` occurs in `S` (as a tuple length, compared with `extends`). */
type Count<S extends string, C extends string, N extends 0[] = []> = S extends `${string}${C}${infer R}` ? Count<R, C, [...N, 0]> : N;
type Even<N extends 0[]> = N extends [] ? true : N extends [0, 0, ...infer R extends 0[]] ? Even<R> : false;
type SameCount<S extends string, A extends string, B extends string> = Count<S, A>['length'] extends Count<S, B>['length'] ? true : false;

/** True when `S` closes every bracket and quote it opens. */
type Balanced<S extends string> =
  SameCount<S, '<', '>'> extends true
    ? SameCount<S, '(', ')'> extends true
      ? Even<Count<S, '`'>> extends true
        ? Even<Count<S, "'">> extends true
          ? Even<Count<S, '"'>>
          : false
        : false
      : false
    : false;

/** The pieces of `S` between commas that are outside brackets and quotes. */
type SplitTop<S extends string, Acc extends string = '', Out extends string[] = []> = S extends `${infer H},${infer R}`
  ? Balanced<`${Acc}${H}`> extends true
    ? SplitTop<R, '', [...Out, `${Acc}${H}`]>
    : SplitTop<R, `${Acc}${H},`, Out>
  : [...Out, `${Acc}${S}`];

/** `[inside, after]` for `S` = the text after an opening `<`: up to its matching `>`. */
type SplitClose<S extends string, Acc extends string = ''> = S extends `${infer H}>${infer R}`
  ? SameCount<`${Acc}${H}`, '<', '>'> extends true
    ? [`${Acc}${H}`, R]
    : SplitClose<R, `${Acc}${H}>`>
  : Unreadable;

/** `[name, rest]` of a column or struct field: a back-quoted or bare name. */
type ParseName<S extends string> = S extends `\`${infer N}\`${infer R}`
  ? [N, R]
  : TakeWord<S> extends [infer W extends string, infer R extends string]
    ? W extends ''
      ? Unreadable
      : [W, R]
    : Unreadable;

/** The value types of a primitive type word: `[read, input]`. */
interface Primitives {
  boolean: [boolean, boolean];
  tinyint: [number, number];
  byte: [number, number];
  smallint: [number, number];
  short: [number, number];
  int: [number, number];
  integer: [number, number];
  bigint: [number | bigint, number];
  long: [number | bigint, number];
  float: [number, number];
  real: [number, number];
  double: [number, number];
  decimal: [string, string];
  dec: [string, string];
  numeric: [string, string];
  date: [string, string | Date | number];
  timestamp: [number, number | Date | bigint];
  timestamp_ltz: [number, number | Date | bigint];
  timestamp_ntz: [number, number | Date | bigint];
  binary: [Uint8Array, Uint8Array];
  string: [string, string];
  char: [string, string];
  character: [string, string];
  varchar: [string, string];
}

/** Skips `(…)` after a type word (`decimal(10, 2)`, `varchar(20)`). */
type SkipParams<S extends string> = TrimStart<S> extends `(${string})${infer R}` ? R : S;

/** `[read, input, rest]` of the type at the start of `S`. */
type ParseType<S extends string> =
  TakeWord<TrimStart<S>> extends [infer W extends string, infer R extends string]
    ? Lowercase<W> extends 'struct'
      ? TrimStart<R> extends `<${infer Body}`
        ? SplitClose<Body> extends [infer Inside extends string, infer After extends string]
          ? StructOf<Inside, 'out'> extends infer O
            ? O extends Unreadable
              ? Unreadable
              : [O, StructOf<Inside, 'in'>, After]
            : Unreadable
          : Unreadable
        : Unreadable
      : Lowercase<W> extends 'array'
        ? TrimStart<R> extends `<${infer Body}`
          ? SplitClose<Body> extends [infer Inside extends string, infer After extends string]
            ? ParseType<Inside> extends [infer E, infer EI, string]
              ? [(E | null)[], readonly (EI | null)[], After]
              : Unreadable
            : Unreadable
          : Unreadable
        : Lowercase<W> extends 'map'
          ? TrimStart<R> extends `<${infer Body}`
            ? SplitClose<Body> extends [infer Inside extends string, infer After extends string]
              ? SplitTop<Inside> extends [infer K extends string, infer V extends string]
                ? ParseType<K> extends [infer KO, infer KI, string]
                  ? ParseType<V> extends [infer VO, infer VI, string]
                    ? [Map<KO, VO | null>, ReadonlyMap<KI, VI | null>, After]
                    : Unreadable
                  : Unreadable
                : Unreadable
              : Unreadable
            : Unreadable
          : W extends ''
            ? Unreadable
            : Lowercase<W> extends keyof Primitives
              ? [Primitives[Lowercase<W>][0], Primitives[Lowercase<W>][1], SkipParams<R>]
              : [unknown, unknown, SkipParams<R>]
    : Unreadable;

/** True when what follows a type starts with `NOT NULL`. */
type IsNotNull<S extends string> = Lowercase<TrimStart<S>> extends `not${infer R}` ? (TrimStart<R> extends `null${string}` ? true : false) : false;

/** One column (or struct field): `[name, read, input, notNull]`. */
type ParseColumn<S extends string, Field extends boolean> =
  ParseName<TrimStart<S>> extends [infer N extends string, infer R extends string]
    ? ParseType<Field extends true ? (TrimStart<R> extends `:${infer T}` ? T : R) : R> extends [infer O, infer I, infer After extends string]
      ? [N, O, I, IsNotNull<After>]
      : Unreadable
    : Unreadable;

type ParseColumns<Pieces extends string[], Field extends boolean, Out extends unknown[] = []> = Pieces extends [infer P extends string, ...infer Rest extends string[]]
  ? ParseColumn<P, Field> extends infer C
    ? C extends Unreadable
      ? Unreadable
      : ParseColumns<Rest, Field, [...Out, C]>
    : Unreadable
  : Out;

type Flatten<T> = { [K in keyof T]: T[K] } & {};

/** The object type of parsed columns, for reading or for input. */
type ColumnsObject<Cols, M extends Mode> = Cols extends [string, unknown, unknown, boolean][]
  ? M extends 'out'
    ? Flatten<{ [C in Cols[number] as C[0]]: C[3] extends true ? C[1] : C[1] | null }>
    : Flatten<
        { [C in Cols[number] as C[3] extends true ? C[0] : never]: C[2] } & { [C in Cols[number] as C[3] extends true ? never : C[0]]?: C[2] | null | undefined }
      >
  : Unreadable;

/** A `struct<…>` type's body (`a: int, b: string`). */
type StructOf<Inside extends string, M extends Mode> = Trim<Inside> extends '' ? {} : ColumnsObject<ParseColumns<SplitTop<Inside>, true>, M>;

/** A whole schema: a column list, or `STRUCT<…>`. SQL comments are not read (the row stays untyped). */
type DdlRow<S extends string, M extends Mode> = S extends `${string}--${string}` | `${string}/*${string}` ? Row : DdlRowOf<S, M>;

type DdlRowOf<S extends string, M extends Mode> =
  ParseType<S> extends [infer O, infer I, infer After extends string]
    ? Lowercase<TakeWord<TrimStart<S>>[0]> extends 'struct'
      ? Trim<After> extends ''
        ? Readable<M extends 'out' ? O : I>
        : Row
      : ColumnsRow<S, M>
    : ColumnsRow<S, M>;

type ColumnsRow<S extends string, M extends Mode> = Readable<ColumnsObject<ParseColumns<SplitTop<S>, false>, M>>;

/** A parsed row type, or the untyped row when some part could not be read. */
type Readable<T> = [T] extends [never] ? Row : HasUnreadable<T> extends true ? Row : T;
type HasUnreadable<T> = T extends Unreadable ? true : T extends object ? (true extends { [K in keyof T]: T[K] extends Unreadable ? true : false }[keyof T] ? true : false) : false;
