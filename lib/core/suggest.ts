/**
 * "Did you mean": the closest known name to one that is not known, for
 * error messages about flags, columns, fields, units and time zones.
 *
 * @module
 */

/**
 * Optimal string alignment distance (Levenshtein plus swapping two
 * neighbours, the commonest typo: `actoin`), case-insensitive.
 */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  if (s === t) return 0;
  const rows = s.length + 1;
  const cols = t.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = s.charCodeAt(i - 1) === t.charCodeAt(j - 1) ? 0 : 1;
      let v = Math.min(d[(i - 1) * cols + j]! + 1, d[i * cols + j - 1]! + 1, d[(i - 1) * cols + j - 1]! + cost);
      if (i > 1 && j > 1 && s.charCodeAt(i - 1) === t.charCodeAt(j - 2) && s.charCodeAt(i - 2) === t.charCodeAt(j - 1)) {
        v = Math.min(v, d[(i - 2) * cols + j - 2]! + 1);
      }
      d[i * cols + j] = v;
    }
  }
  return d[rows * cols - 1]!;
}

/**
 * The candidate closest to `name`, or null when none is close enough to be
 * a likely typo: at most a third of the longer name's characters differ
 * (at least one, at most three), or one name starts with the other
 * (`--watermark` for `--water`). Ties go to the earlier candidate.
 */
export function closestName(name: string, candidates: Iterable<string>): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  const lower = name.toLowerCase();
  for (const c of candidates) {
    if (c === name) continue;
    const distance = editDistance(name, c);
    const limit = Math.min(3, Math.max(1, Math.floor(Math.max(name.length, c.length) / 3)));
    const prefix = lower.length >= 3 && (c.toLowerCase().startsWith(lower) || lower.startsWith(c.toLowerCase()));
    if ((distance <= limit || prefix) && distance < bestDistance) {
      best = c;
      bestDistance = distance;
    }
  }
  return best;
}

/** `; did you mean 'x'?` for {@link closestName}'s answer, or '' when there is none. */
export function didYouMean(name: string, candidates: Iterable<string>, quote = "'"): string {
  const hit = closestName(name, candidates);
  return hit === null ? '' : `; did you mean ${quote}${hit}${quote}?`;
}
