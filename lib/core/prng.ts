/**
 * mulberry32: a tiny, fast, seedable PRNG (Math.random is not seedable), for
 * the data generators, seeded crash tests and benchmarks: the same seed gives
 * the same numbers on every machine.
 *
 * @module
 */

/** Uniform numbers in [0, 1) from a 32-bit seed (an integer; its low 32 bits count). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
