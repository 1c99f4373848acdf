/** UTF-8 sizes and byte-bounded splits: events are budgeted in bytes as they travel, not in characters. */
const utf8 = new TextEncoder();

/** UTF-8 size of a string as it will travel. */
export function byteLength(s: string): number {
  return utf8.encode(s).length;
}

/**
 * Splits text into pieces of at most `maxBytes` UTF-8 bytes without cutting a code point in half,
 * so each piece can be its own token event. Concatenating the pieces gives the input back exactly.
 */
export function splitByBytes(text: string, maxBytes: number): string[] {
  if (maxBytes < 4) throw new RangeError("maxBytes must be at least 4");
  const pieces: string[] = [];
  let current = "";
  let size = 0;
  for (const ch of text) {
    const n = byteLength(ch);
    if (size + n > maxBytes) {
      pieces.push(current);
      current = "";
      size = 0;
    }
    current += ch;
    size += n;
  }
  if (current || pieces.length === 0) pieces.push(current);
  return pieces;
}
