/**
 * Spark's order of strings: `UTF8String.compareTo`, unsigned byte by byte
 * over the UTF-8 encoding (the `UTF8_BINARY` collation). That is code point
 * order, which differs from JavaScript's `<` (UTF-16 code units) where a
 * character above U+FFFF (a surrogate pair, `😀`) meets one in
 * U+E000–U+FFFF (`ｚ`, `�`): UTF-16 puts the pair first, UTF-8 last.
 *
 * @module
 */

/**
 * Negative, zero or positive as `a` sorts before, with or after `b` by
 * their UTF-8 bytes. Only the first differing code unit is looked at:
 * moving surrogates (U+D800–U+DFFF) above U+E000–U+FFFF turns UTF-16 unit
 * order into code point order.
 */
export function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit < 0xe000 ? unit + 0x2000 : unit - 0x800;
}
