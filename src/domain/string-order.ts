// Sorting many records by a string key, as `<` orders strings (UTF-16 code units). Comparing the
// strings themselves costs a cache miss per comparison for a million records spread over a large
// heap; here each key is read once into a number made of its first characters, the sort compares
// those numbers, and only records whose numbers tie compare their strings.

/** Characters of a key in its number: 7 bits each, 49 bits in all (exact in a double). */
const PREFIX_CHARS = 7;
/** Character codes from here up share one digit (the digits after it are 0; ties compare strings). */
const LAST_DIGIT = 127;

/**
 * A number that orders like the key as far as its first characters tell: if prefixNumber(a) <
 * prefixNumber(b) then a < b; if equal, the strings must be compared. The end of the key is
 * digit 0, so a key sorts before the keys it is a prefix of.
 */
export function prefixNumber(key: string): number {
  let n = 0;
  let c = 0;
  for (; c < PREFIX_CHARS && c < key.length; c++) {
    const digit = Math.min(key.charCodeAt(c) + 1, LAST_DIGIT);
    n = n * 128 + digit;
    // A shared top digit says nothing about the characters after it.
    if (digit === LAST_DIGIT) {
      c++;
      break;
    }
  }
  for (; c < PREFIX_CHARS; c++) n *= 128;
  return n;
}

/**
 * The indexes 0 … count-1 ordered by keyOf(index) (ties keep no particular order). A plain array:
 * its sort (TimSort) takes keys already in order in one pass; a typed array's does not.
 */
export function orderByString(count: number, keyOf: (index: number) => string): number[] {
  const keys = new Array<string>(count);
  const prefixes = new Float64Array(count);
  const order = new Array<number>(count);
  for (let i = 0; i < count; i++) {
    const key = keyOf(i);
    keys[i] = key;
    prefixes[i] = prefixNumber(key);
    order[i] = i;
  }
  return order.sort((a, b) => prefixes[a] - prefixes[b] || (keys[a] < keys[b] ? -1 : keys[a] > keys[b] ? 1 : 0));
}

/** Rearranges `rows` in place so that rows[k] is the old rows[order[k]]. */
export function permuteInPlace<T>(rows: T[], order: ArrayLike<number>): T[] {
  const copy = rows.slice();
  for (let k = 0; k < order.length; k++) rows[k] = copy[order[k]];
  return rows;
}
