/**
 * DDL schema strings, as `spark.readStream.schema("time TIMESTAMP, action STRING")`
 * takes them (`StructType.fromDDL`), and the canonical DDL tidemark prints
 * back to fingerprint a query's input in its checkpoint.
 *
 * Grammar (Spark's `colTypeList`, keywords case-insensitive, `--` and
 * `/* *\/` comments allowed where whitespace is):
 *
 * ```
 * schema   := column (',' column)*            |  STRUCT<…>  (a whole struct type)
 * column   := name type [NOT NULL] [COMMENT 'text']
 * type     := primitive | ARRAY<type> | MAP<type, type>
 *           | STRUCT<name[:] type [NOT NULL] [COMMENT 'text'], …>  |  STRUCT<>
 * name     := [A-Za-z0-9_]+ | `any text, with `` for a backquote`
 * ```
 *
 * @module
 */
import { TidemarkError } from '../errors.js';
import type { DataType, Field, FieldMetadata, Schema } from './schema.js';

/** Spark's `DecimalType.MAX_PRECISION`. */
const MAX_DECIMAL_PRECISION = 38;

/** What a parse failure reports before the whole message is built. */
class DdlSyntaxError extends Error {
  constructor(
    readonly what: string,
    readonly position: number,
  ) {
    super(what);
  }
}

/** Word characters of Spark's SQL lexer (`LETTER | DIGIT | '_'`, letters matched case-insensitively). */
function isWordChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

function isSpace(c: number): boolean {
  return (
    c === 32 ||
    (c >= 9 && c <= 13) ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

/** Words the lexer reads as numeric literals (`123`, `1L`, `1D`, `1E10`, `1BD`), never as identifiers. */
const NUMERIC_LITERAL = /^[0-9]+(?:[eE][0-9]+)?(?:[lLsSyYdDfF]|[bB][dD])?$/;

function isBareIdentifier(name: string): boolean {
  return /^[A-Za-z0-9_]+$/.test(name) && !NUMERIC_LITERAL.test(name);
}

const TYPE_WORD_NOT_SUPPORTED = new Set(['VOID', 'INTERVAL', 'VARIANT', 'TIME']);

class Parser {
  pos = 0;

  constructor(readonly text: string) {}

  fail(what: string, position = this.pos): never {
    throw new DdlSyntaxError(what, position);
  }

  /** Skips whitespace and SQL comments. */
  skip(): void {
    const s = this.text;
    for (;;) {
      const c = s.charCodeAt(this.pos);
      if (isSpace(c)) {
        this.pos++;
      } else if (c === 45 && s.charCodeAt(this.pos + 1) === 45) {
        while (this.pos < s.length && s.charCodeAt(this.pos) !== 10) this.pos++;
      } else if (c === 47 && s.charCodeAt(this.pos + 1) === 42) {
        const start = this.pos;
        let depth = 0;
        while (this.pos < s.length) {
          if (s.startsWith('/*', this.pos)) {
            depth++;
            this.pos += 2;
          } else if (s.startsWith('*/', this.pos)) {
            depth--;
            this.pos += 2;
            if (depth === 0) break;
          } else {
            this.pos++;
          }
        }
        if (depth !== 0) this.fail('unterminated comment', start);
      } else {
        return;
      }
    }
  }

  atEnd(): boolean {
    this.skip();
    return this.pos >= this.text.length;
  }

  peekChar(): string {
    this.skip();
    return this.text.charAt(this.pos);
  }

  /** Consumes `ch` (after whitespace) or fails with `expected`. */
  expect(ch: string, expected: string): void {
    if (this.peekChar() !== ch) this.fail(expected);
    this.pos++;
  }

  /** The next word (identifier characters), consumed, or '' when there is none. */
  word(): string {
    this.skip();
    const start = this.pos;
    while (this.pos < this.text.length && isWordChar(this.text.charCodeAt(this.pos))) this.pos++;
    return this.text.slice(start, this.pos);
  }

  /** The next word upper-cased without consuming it. */
  peekKeyword(): string {
    const save = this.pos;
    const w = this.word();
    this.pos = save;
    return w.toUpperCase();
  }

  /** A column or struct field name. */
  name(): string {
    this.skip();
    const start = this.pos;
    if (this.text.charCodeAt(start) === 96) {
      let out = '';
      let i = start + 1;
      for (;;) {
        const j = this.text.indexOf('`', i);
        if (j < 0) this.fail('unterminated back-quoted name', start);
        out += this.text.slice(i, j);
        if (this.text.charCodeAt(j + 1) === 96) {
          out += '`';
          i = j + 2;
        } else {
          this.pos = j + 1;
          return out;
        }
      }
    }
    const w = this.word();
    if (w === '' || NUMERIC_LITERAL.test(w)) this.fail('expected a column name', start);
    if (this.text.charCodeAt(this.pos) === 45 && isWordChar(this.text.charCodeAt(this.pos + 1))) {
      let end = this.pos;
      while (end < this.text.length && (isWordChar(this.text.charCodeAt(end)) || this.text.charCodeAt(end) === 45)) end++;
      const bad = this.text.slice(start, end);
      this.fail(`invalid unquoted name ${bad}: back-quote it as \`${bad}\``, start);
    }
    return w;
  }

  /** Integer parameter of CHAR(n), DECIMAL(p, s). */
  integer(): number {
    this.skip();
    const start = this.pos;
    while (this.pos < this.text.length && this.text.charCodeAt(this.pos) >= 48 && this.text.charCodeAt(this.pos) <= 57) this.pos++;
    if (this.pos === start || isWordChar(this.text.charCodeAt(this.pos))) this.fail('expected an integer', start);
    return Number(this.text.slice(start, this.pos));
  }

  /** `(int, …)` after a primitive type name, or [] when absent. */
  params(): number[] {
    if (this.peekChar() !== '(') return [];
    this.pos++;
    const out = [this.integer()];
    while (this.peekChar() === ',') {
      this.pos++;
      out.push(this.integer());
    }
    this.expect(')', "expected ',' or ')'");
    return out;
  }

  /** A `'…'` or `"…"` literal with Spark's backslash escapes. */
  stringLiteral(): string {
    this.skip();
    const start = this.pos;
    const quote = this.text.charAt(start);
    if (quote !== "'" && quote !== '"') this.fail('expected a string literal', start);
    let out = '';
    let i = start + 1;
    while (i < this.text.length) {
      const c = this.text.charAt(i);
      if (c === quote) {
        this.pos = i + 1;
        return out;
      }
      if (c === '\\' && i + 1 < this.text.length) {
        const [text, used] = unescape(this.text, i + 1);
        out += text;
        i += 1 + used;
      } else {
        out += c;
        i++;
      }
    }
    return this.fail('unterminated string literal', start);
  }

  dataType(): DataType {
    this.skip();
    const start = this.pos;
    const w = this.word();
    if (w === '') {
      const c = this.text.charAt(start);
      return this.fail(c === ':' ? "expected a data type (columns are written `name type`, without ':')" : 'expected a data type', start);
    }
    const upper = w.toUpperCase();
    switch (upper) {
      case 'ARRAY': {
        this.expect('<', "expected '<' after ARRAY");
        const elementType = this.dataType();
        this.expect('>', "expected '>'");
        return { type: 'array', elementType, containsNull: true };
      }
      case 'MAP': {
        this.expect('<', "expected '<' after MAP");
        const keyType = this.dataType();
        this.expect(',', "expected ','");
        const valueType = this.dataType();
        this.expect('>', "expected '>'");
        return { type: 'map', keyType, valueType, valueContainsNull: true };
      }
      case 'STRUCT':
        return this.structBody();
      default:
        return this.primitive(upper, start);
    }
  }

  structBody(): DataType {
    this.skip();
    if (this.text.startsWith('<>', this.pos)) {
      this.pos += 2;
      return { type: 'struct', fields: [] };
    }
    this.expect('<', "expected '<' after STRUCT");
    const fields: Field[] = [];
    if (this.peekChar() === '>') {
      this.pos++;
      return { type: 'struct', fields };
    }
    for (;;) {
      const name = this.name();
      if (this.peekChar() === ':') this.pos++;
      fields.push(this.fieldRest(name));
      const c = this.peekChar();
      if (c === ',') {
        this.pos++;
        continue;
      }
      if (c === '>') {
        this.pos++;
        return { type: 'struct', fields };
      }
      this.fail("expected ',' or '>'");
    }
  }

  /** `type [NOT NULL] [COMMENT '…']` of a column or struct field named `name`. */
  fieldRest(name: string): Field {
    const dataType = this.dataType();
    let nullable = true;
    let comment: string | undefined;
    if (this.peekKeyword() === 'NOT') {
      this.word();
      this.skip();
      const at = this.pos;
      if (this.word().toUpperCase() !== 'NULL') this.fail('expected NULL after NOT', at);
      nullable = false;
    }
    if (this.peekKeyword() === 'COMMENT') {
      this.word();
      comment = this.stringLiteral();
    }
    if (comment === undefined) return { name, dataType, nullable };
    const metadata: FieldMetadata = { comment };
    return { name, dataType, nullable, metadata };
  }

  primitive(upper: string, start: number): DataType {
    const params = this.params();
    const shown = params.length === 0 ? upper : `${upper}(${params.join(',')})`;
    const plain = (t: DataType): DataType => {
      if (params.length !== 0) this.fail(`unsupported data type "${shown}"`, start);
      return t;
    };
    switch (upper) {
      case 'BOOLEAN':
        return plain({ type: 'boolean' });
      case 'TINYINT':
      case 'BYTE':
        return plain({ type: 'byte' });
      case 'SMALLINT':
      case 'SHORT':
        return plain({ type: 'short' });
      case 'INT':
      case 'INTEGER':
        return plain({ type: 'int' });
      case 'BIGINT':
      case 'LONG':
        return plain({ type: 'long' });
      case 'FLOAT':
      case 'REAL':
        return plain({ type: 'float' });
      case 'DOUBLE':
        return plain({ type: 'double' });
      case 'DATE':
        return plain({ type: 'date' });
      case 'TIMESTAMP':
      case 'TIMESTAMP_LTZ':
        return plain({ type: 'timestamp' });
      case 'TIMESTAMP_NTZ':
        return plain({ type: 'timestamp_ntz' });
      case 'BINARY':
        return plain({ type: 'binary' });
      case 'STRING': {
        const t = plain({ type: 'string' });
        if (this.peekKeyword() === 'COLLATE') {
          this.word();
          this.skip();
          const at = this.pos;
          const collation = this.word();
          if (collation === '') this.fail('expected a collation name', at);
          if (collation.toUpperCase() !== 'UTF8_BINARY') this.fail(`collation ${collation} is not supported by tidemark (only UTF8_BINARY)`, at);
        }
        return t;
      }
      case 'CHAR':
      case 'CHARACTER':
      case 'VARCHAR':
        if (params.length !== 1) {
          return this.fail(params.length === 0 ? `expected a length after ${upper}, e.g. ${upper}(10)` : `unsupported data type "${shown}"`, start);
        }
        return { type: 'string' };
      case 'DECIMAL':
      case 'DEC':
      case 'NUMERIC': {
        if (params.length > 2) this.fail(`unsupported data type "${shown}"`, start);
        const precision = params[0] ?? 10;
        const scale = params[1] ?? 0;
        if (precision > MAX_DECIMAL_PRECISION) this.fail(`decimal precision ${precision} exceeds max precision ${MAX_DECIMAL_PRECISION}`, start);
        if (scale > precision) this.fail(`decimal scale (${scale}) cannot be greater than precision (${precision})`, start);
        return { type: 'decimal', precision, scale };
      }
      default:
        if (TYPE_WORD_NOT_SUPPORTED.has(upper)) return this.fail(`data type "${upper}" is not supported by tidemark`, start);
        return this.fail(`unsupported data type "${shown}"`, start);
    }
  }

  columns(): Field[] {
    const fields: Field[] = [];
    for (;;) {
      const name = this.name();
      fields.push(this.fieldRest(name));
      if (this.atEnd()) return fields;
      if (this.text.charAt(this.pos) !== ',') this.fail("expected ',' or end of input");
      this.pos++;
    }
  }
}

/** One escape of Spark's `unescapeSQLString` at `s[i]` (after the backslash): [text, chars used]. */
function unescape(s: string, i: number): [string, number] {
  const c = s.charAt(i);
  switch (c) {
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
      if (/^[0-7]{3}$/.test(s.slice(i, i + 3)) && c <= '3') return [String.fromCharCode(parseInt(s.slice(i, i + 3), 8)), 3];
      return c === '0' ? ['\u0000', 1] : [c, 1];
    case 'b':
      return ['\b', 1];
    case 'n':
      return ['\n', 1];
    case 'r':
      return ['\r', 1];
    case 't':
      return ['\t', 1];
    case 'Z':
      return ['\u001A', 1];
    case '%':
      return ['\\%', 1];
    case '_':
      return ['\\_', 1];
    case 'u':
      if (/^[0-9a-fA-F]{4}$/.test(s.slice(i + 1, i + 5))) return [String.fromCharCode(parseInt(s.slice(i + 1, i + 5), 16)), 5];
      return ['u', 1];
    default:
      return [c, 1];
  }
}

function parseError(ddl: string, e: DdlSyntaxError): TidemarkError {
  return new TidemarkError('ERR_SCHEMA_PARSE', `Cannot parse schema "${ddl}": ${e.what} at position ${e.position}`, { option: 'schema' });
}

/**
 * Parses a DDL schema string the way `StructType.fromDDL` does, so users can
 * pass the same `schema` option they give Spark. Fields are nullable unless
 * declared `NOT NULL`; comments go to `metadata.comment`. CHAR(n)/VARCHAR(n)
 * read as STRING (Spark's `charVarcharAsString`). A whole `STRUCT<…>` type is
 * accepted too, as Spark's fallback to `parseDataType` does.
 *
 * @throws TidemarkError `ERR_SCHEMA_PARSE` (option `schema`) naming the
 *   0-based position and what was expected there.
 */
export function parseDDL(ddl: string): Schema {
  const p = new Parser(ddl);
  try {
    return { fields: p.columns() };
  } catch (e) {
    if (!(e instanceof DdlSyntaxError)) throw e;
    const whole = new Parser(ddl);
    if (whole.peekKeyword() === 'STRUCT') {
      try {
        const t = whole.dataType();
        if (whole.atEnd() && t.type === 'struct') return { fields: t.fields };
      } catch (e2) {
        if (!(e2 instanceof DdlSyntaxError)) throw e2;
      }
    }
    throw parseError(ddl, e);
  }
}

function quoteName(name: string): string {
  return isBareIdentifier(name) ? name : '`' + name.replaceAll('`', '``') + '`';
}

function fieldSuffix(f: Field): string {
  let out = f.nullable ? '' : ' NOT NULL';
  const comment = f.metadata?.comment;
  if (comment !== undefined) out += " COMMENT '" + comment.replaceAll('\\', '\\\\').replaceAll("'", "\\'") + "'";
  return out;
}

// A type's text, Spark's way (`BIGINT`, `DECIMAL(10,0)`, `ARRAY<…>`, `MAP<…, …>`), struct fields
// written by `fieldText`: the one difference between the DDL and the error messages' form.
function typeText(t: DataType, fieldText: (f: Field) => string): string {
  switch (t.type) {
    case 'byte':
      return 'TINYINT';
    case 'short':
      return 'SMALLINT';
    case 'long':
      return 'BIGINT';
    case 'decimal':
      return `DECIMAL(${t.precision},${t.scale})`;
    case 'array':
      return `ARRAY<${typeText(t.elementType, fieldText)}>`;
    case 'map':
      return `MAP<${typeText(t.keyType, fieldText)}, ${typeText(t.valueType, fieldText)}>`;
    case 'struct':
      return `STRUCT<${t.fields.map(fieldText).join(', ')}>`;
    default:
      return t.type.toUpperCase();
  }
}

/**
 * A type as Spark's error messages print it (`toSQLType` without the
 * quotes): `BIGINT`, `STRUCT<start: TIMESTAMP, end: TIMESTAMP>` — field
 * names as they are, no nullability.
 */
export function sqlTypeName(t: DataType): string {
  return typeText(t, (f) => `${f.name}: ${sqlTypeName(f.dataType)}`);
}

/**
 * A type's canonical DDL (Spark's `DataType.sql`: `BIGINT`, `DECIMAL(10,0)`,
 * `ARRAY<STRING>`, `MAP<STRING, INT>`, `STRUCT<a: INT NOT NULL>`), the form
 * checkpoints fingerprint so equal types always print equally.
 */
export function dataTypeToDDL(t: DataType): string {
  return typeText(t, (f) => `${quoteName(f.name)}: ${dataTypeToDDL(f.dataType)}${fieldSuffix(f)}`);
}

/**
 * A schema's canonical DDL (`time TIMESTAMP, action STRING`): what a
 * checkpoint stores to detect that a restarted query reads a different
 * schema, and what {@link parseDDL} reads back to the same schema (names are
 * back-quoted only when needed; nullability and comments are kept, other
 * metadata is not).
 */
export function schemaToDDL(s: Schema): string {
  return s.fields.map((f) => `${quoteName(f.name)} ${dataTypeToDDL(f.dataType)}${fieldSuffix(f)}`).join(', ');
}
