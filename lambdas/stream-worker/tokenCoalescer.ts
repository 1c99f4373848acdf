/**
 * Collects model deltas into chunks, so a stream costs one publish per chunk instead of one per token.
 * The message's first delta is its own chunk, sent at once (time to first token). After it, a chunk is flushed when
 * its window ends, or as soon as it holds `maxChars` characters (cut at a whitespace or line boundary when one is near
 * the limit), and always at the end. The window is `maxDelayMs` after the chunk's first delta (the fixed mode;
 * `maxDelayMs = 0` gives one chunk per delta), or, with `readingPace`, `readingPaceFlushAt` (readingPace.ts): it
 * grows while the delivered text is ahead of a reader. Chunks are also kept under a byte budget so every event fits
 * AppSync's payload limit. Chunks are handed to `onChunk` one at a time, in order, with sequence numbers 0, 1, 2, ...;
 * the concatenation of all chunks (and the kept tail, see `end`) is exactly the concatenation of all deltas.
 */
import { MAX_EVENT_BYTES, type Chunk } from "../../contracts/streamEvents";
import { byteLength, splitByBytes } from "../../contracts/utf8";
import { readingPaceFlushAt, type ReadingPaceSettings } from "./readingPace";

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
  /** `batching.mode = "reading_pace"`: the window of each chunk comes from readingPaceFlushAt; absent = the fixed window. */
  readingPace?: Omit<ReadingPaceSettings, "maxDelayMs">;
}

/** How the coalescer hands out what is still buffered when the message ends. */
export interface EndOptions {
  /** Keep the last chunk instead of handing it to `onChunk`: it is numbered and left in `keptTail`, for the final event to carry. */
  keepTail?: boolean;
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
  private readonly pace: ReadingPaceSettings | undefined;
  private pieces: Piece[] = [];
  private bufferedChars = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerFor: Piece | undefined;
  private nextSequence = 0;
  private firstTokenAt = 0;
  private deliveredTokens = 0;
  private publishing: Promise<void> = Promise.resolve();
  private failure: unknown;
  private ended = false;
  private kept: Chunk | undefined;

  constructor(options: TokenCoalescerOptions) {
    if (!(options.maxDelayMs >= 0)) throw new RangeError("maxDelayMs must be >= 0");
    if (!(options.maxChars >= 1)) throw new RangeError("maxChars must be >= 1");
    if (options.readingPace && !(options.readingPace.readingTokensPerSecond > 0)) throw new RangeError("readingTokensPerSecond must be > 0");
    this.maxDelayMs = options.maxDelayMs;
    this.maxChars = options.maxChars;
    this.maxChunkBytes = options.maxChunkBytes ?? CHUNK_BYTE_BUDGET;
    this.onChunk = options.onChunk;
    this.now = options.now ?? Date.now;
    this.pace = options.readingPace && { maxDelayMs: options.maxDelayMs, ...options.readingPace };
  }

  /** Sequence number of the last chunk handed out (or kept as the tail), -1 before the first. */
  get lastSequenceNumber(): number {
    return this.nextSequence - 1;
  }

  /** After `end({ keepTail: true })`: the last chunk, numbered, which no `onChunk` call carried; undefined when nothing was left. */
  get keptTail(): Chunk | undefined {
    return this.kept;
  }

  push(delta: string): void {
    if (this.ended) throw new Error("TokenCoalescer: push after end");
    if (delta === "") return;
    // The first delta goes out at once: time to first token is what users feel most; coalescing starts after it.
    if (this.nextSequence === 0) this.firstTokenAt = this.now();
    if (this.nextSequence === 0 || (this.maxDelayMs === 0 && !this.pace)) {
      this.deliveredTokens++;
      this.emit(delta);
      return;
    }
    this.pieces.push({ text: delta, at: this.now() });
    this.bufferedChars += delta.length;
    while (this.bufferedChars >= this.maxChars) this.cutAtLimit();
    this.schedule();
  }

  /**
   * Sends what is buffered now, whatever its window, and waits until every chunk so far was handed to `onChunk`; the
   * message goes on. For a boundary the user must see in order: the reasoning before the answer, the text before a tool
   * call's notice. A failed `onChunk` is kept for `end` to rethrow.
   */
  async drain(): Promise<void> {
    if (this.ended) return;
    this.flush();
    await this.publishing;
  }

  /**
   * Flushes what is buffered (or, with `keepTail`, all of it but the last chunk) and waits until every chunk was
   * handed to `onChunk`; rethrows the first `onChunk` failure. Returns the last sequence number, the tail's included.
   */
  async end(options: EndOptions = {}): Promise<number> {
    this.ended = true;
    if (options.keepTail) this.keepLastChunk();
    else this.flush();
    await this.publishing;
    if (this.failure !== undefined) throw this.failure;
    return this.lastSequenceNumber;
  }

  /** Empties the buffer and returns its text. */
  private take(): string {
    this.clearTimer();
    const text = this.pieces.map((p) => p.text).join("");
    this.deliveredTokens += this.pieces.length;
    this.pieces = [];
    this.bufferedChars = 0;
    return text;
  }

  private flush(): void {
    const text = this.take();
    if (text !== "") this.emit(text);
  }

  private keepLastChunk(): void {
    const parts = this.partsOf(this.take());
    const last = parts.pop();
    for (const part of parts) this.emitPart(part);
    if (last !== undefined) this.kept = { sequenceNumber: this.nextSequence++, value: last };
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
      else this.deliveredTokens++;
      offset = end;
    }
    this.pieces = rest;
    this.bufferedChars = text.length - cut;
  }

  /** Arms the flush of the chunk that starts with `pieces[0]` (once per chunk), or flushes now when it is due. */
  private schedule(): void {
    const first = this.pieces[0];
    if (!first) return this.clearTimer();
    if (this.timer !== undefined && this.timerFor === first) return;
    this.clearTimer();
    const wait = this.flushTime(first) - this.now();
    if (wait <= 0) return this.flush();
    this.timerFor = first;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, wait);
  }

  /** When the chunk starting with `first` must go out (epoch ms): the fixed window, or the reading-pace one. */
  private flushTime(first: Piece): number {
    if (!this.pace) return first.at + this.maxDelayMs;
    const state = { sinceFirstTokenMs: first.at - this.firstTokenAt, deliveredTokens: this.deliveredTokens, bufferedTokens: this.pieces.length };
    return this.firstTokenAt + readingPaceFlushAt(state, this.pace);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerFor = undefined;
  }

  private partsOf(text: string): string[] {
    if (text === "") return [];
    return byteLength(text) > this.maxChunkBytes ? splitByBytes(text, this.maxChunkBytes) : [text];
  }

  private emit(text: string): void {
    for (const part of this.partsOf(text)) this.emitPart(part);
  }

  private emitPart(part: string): void {
    const sequenceNumber = this.nextSequence++;
    this.publishing = this.publishing
      .then(() => this.onChunk(part, sequenceNumber))
      .catch((error: unknown) => {
        this.failure ??= error;
      });
  }
}
