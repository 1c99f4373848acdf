/**
 * Collects model deltas into chunks, so a stream costs one publish per chunk instead of one per token.
 * The message's first delta is its own chunk, sent at once (time to first token). After it,
 * a chunk is flushed `maxDelayMs` after its first delta arrived, or as soon as it holds `maxChars` characters
 * (cut at a whitespace or line boundary when one is near the limit), and always at the end. `maxDelayMs = 0` gives
 * one chunk per delta. Chunks are also kept under a byte budget so every event fits AppSync's payload limit.
 * Chunks are handed to `onChunk` one at a time, in order, with sequence numbers 0, 1, 2, ...; the concatenation of
 * all chunks is exactly the concatenation of all deltas.
 */
import { MAX_EVENT_BYTES } from "../../contracts/streamEvents";
import { byteLength, splitByBytes } from "../../contracts/utf8";

/**
 * Largest chunk text in UTF-8 bytes: JSON escaping can grow a byte to six (`\u0001`), and the envelope around the
 * token needs room, so this keeps every serialized token event within MAX_EVENT_BYTES.
 */
export const CHUNK_BYTE_BUDGET = Math.floor((MAX_EVENT_BYTES - 2048) / 6);

export interface TokenCoalescerOptions {
  /** Longest a chunk waits after its first delta, in ms; 0 = one chunk per delta. */
  maxDelayMs: number;
  /** A chunk is flushed once it holds this many characters (UTF-16 code units). */
  maxChars: number;
  /** Byte bound per chunk (default CHUNK_BYTE_BUDGET). */
  maxChunkBytes?: number;
  /** Publishes one chunk; called serially, in sequence order. */
  onChunk: (text: string, sequenceNumber: number) => Promise<void>;
  /** Clock, for tests (jest fake timers also fake Date.now). */
  now?: () => number;
}

interface Piece {
  text: string;
  /** When the delta this text came from arrived. */
  at: number;
}

const WHITESPACE = /\s/;

/** Where to cut `text` so the first part has at most `limit` code units: a whitespace boundary in the last quarter when there is one, never inside a surrogate pair. */
export function chunkBoundary(text: string, limit: number): number {
  let cut = Math.min(limit, text.length);
  if (cut < text.length && isHighSurrogate(text.charCodeAt(cut - 1))) cut = cut > 1 ? cut - 1 : cut + 1;
  if (cut >= text.length) return cut;
  const window = Math.floor(limit / 4);
  for (let i = cut - 1; i >= cut - window && i > 0; i--) {
    if (WHITESPACE.test(text[i]!)) return i + 1;
  }
  return cut;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

export class TokenCoalescer {
  private readonly maxDelayMs: number;
  private readonly maxChars: number;
  private readonly maxChunkBytes: number;
  private readonly onChunk: (text: string, sequenceNumber: number) => Promise<void>;
  private readonly now: () => number;
  private pieces: Piece[] = [];
  private bufferedChars = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerFor: number | undefined;
  private nextSequence = 0;
  private tail: Promise<void> = Promise.resolve();
  private failure: unknown;
  private ended = false;

  constructor(options: TokenCoalescerOptions) {
    if (!(options.maxDelayMs >= 0)) throw new RangeError("maxDelayMs must be >= 0");
    if (!(options.maxChars >= 1)) throw new RangeError("maxChars must be >= 1");
    this.maxDelayMs = options.maxDelayMs;
    this.maxChars = options.maxChars;
    this.maxChunkBytes = options.maxChunkBytes ?? CHUNK_BYTE_BUDGET;
    this.onChunk = options.onChunk;
    this.now = options.now ?? Date.now;
  }

  /** Sequence number of the last chunk handed out, -1 before the first. */
  get lastSequenceNumber(): number {
    return this.nextSequence - 1;
  }

  push(delta: string): void {
    if (this.ended) throw new Error("TokenCoalescer: push after end");
    if (delta === "") return;
    // The first delta goes out at once: time to first token is what users feel most; coalescing starts after it.
    if (this.maxDelayMs === 0 || this.nextSequence === 0) {
      this.emit(delta);
      return;
    }
    this.pieces.push({ text: delta, at: this.now() });
    this.bufferedChars += delta.length;
    while (this.bufferedChars >= this.maxChars) this.cutAtLimit();
    this.schedule();
  }

  /** Flushes what is buffered and waits until every chunk was handed to `onChunk`; rethrows the first `onChunk` failure. Returns the last sequence number. */
  async end(): Promise<number> {
    this.ended = true;
    this.flush();
    await this.tail;
    if (this.failure !== undefined) throw this.failure;
    return this.lastSequenceNumber;
  }

  private flush(): void {
    this.clearTimer();
    if (this.pieces.length === 0) return;
    const text = this.pieces.map((p) => p.text).join("");
    this.pieces = [];
    this.bufferedChars = 0;
    this.emit(text);
  }

  private cutAtLimit(): void {
    const text = this.pieces.map((p) => p.text).join("");
    const cut = chunkBoundary(text, this.maxChars);
    this.emit(text.slice(0, cut));
    // The rest keeps the arrival time of the delta it came from, so its own delay bound stays honest.
    const rest: Piece[] = [];
    let offset = 0;
    for (const piece of this.pieces) {
      const end = offset + piece.text.length;
      if (end > cut) rest.push({ text: piece.text.slice(Math.max(0, cut - offset)), at: piece.at });
      offset = end;
    }
    this.pieces = rest;
    this.bufferedChars = text.length - cut;
  }

  private schedule(): void {
    const first = this.pieces[0];
    if (!first) {
      this.clearTimer();
      return;
    }
    if (this.timer !== undefined && this.timerFor === first.at) return;
    this.clearTimer();
    this.timerFor = first.at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, Math.max(0, first.at + this.maxDelayMs - this.now()));
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerFor = undefined;
  }

  private emit(text: string): void {
    const parts = byteLength(text) > this.maxChunkBytes ? splitByBytes(text, this.maxChunkBytes) : [text];
    for (const part of parts) {
      const sequenceNumber = this.nextSequence++;
      this.tail = this.tail
        .then(() => this.onChunk(part, sequenceNumber))
        .catch((error: unknown) => {
          this.failure ??= error;
        });
    }
  }
}
