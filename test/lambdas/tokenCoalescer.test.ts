import { byteLength } from "../../contracts/utf8";
import { TokenCoalescer, chunkBoundary } from "../../lambdas/stream-worker/tokenCoalescer";

interface Emitted {
  text: string;
  sequenceNumber: number;
  at: number;
}

function recorder() {
  const chunks: Emitted[] = [];
  const onChunk = async (text: string, sequenceNumber: number) => {
    chunks.push({ text, sequenceNumber, at: Date.now() });
  };
  return { chunks, onChunk };
}

beforeEach(() => {
  jest.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  jest.useRealTimers();
});

/** Feeds deltas at the given gaps (ms before each delta) and returns what was emitted plus each delta's arrival time. */
async function feed(coalescer: TokenCoalescer, script: [gapMs: number, delta: string][]) {
  const arrivals: { delta: string; at: number }[] = [];
  for (const [gap, delta] of script) {
    await jest.advanceTimersByTimeAsync(gap);
    arrivals.push({ delta, at: Date.now() });
    coalescer.push(delta);
  }
  return arrivals;
}

describe("TokenCoalescer", () => {
  it("flushes a chunk no later than maxDelayMs after its first delta, keeps order and loses nothing", async () => {
    const { chunks, onChunk } = recorder();
    const coalescer = new TokenCoalescer({ maxDelayMs: 50, maxChars: 1000, onChunk });
    const script: [number, string][] = [];
    for (let i = 0; i < 60; i++) script.push([(i * 7) % 23, `w${i} `]);
    const arrivals = await feed(coalescer, script);
    await jest.advanceTimersByTimeAsync(100);
    const last = await coalescer.end();

    expect(chunks.map((c) => c.text).join("")).toBe(arrivals.map((a) => a.delta).join(""));
    expect(chunks.map((c) => c.sequenceNumber)).toEqual(chunks.map((_, i) => i));
    expect(last).toBe(chunks.length - 1);
    // Fewer publishes than deltas, and each chunk went out within 50 ms of its first delta.
    expect(chunks.length).toBeLessThan(arrivals.length / 2);
    let consumed = 0;
    for (const chunk of chunks) {
      const firstDelta = arrivals.find((a, i) => arrivals.slice(0, i).reduce((n, x) => n + x.delta.length, 0) === consumed)!;
      expect(chunk.at - firstDelta.at).toBeLessThanOrEqual(50);
      consumed += chunk.text.length;
    }
  });

  it("sends the first delta at once, then does not emit before the delay when the chunk is small, and emits right at the bound", async () => {
    const { chunks, onChunk } = recorder();
    const coalescer = new TokenCoalescer({ maxDelayMs: 40, maxChars: 100, onChunk });
    coalescer.push("Hi");
    await jest.advanceTimersByTimeAsync(0);
    expect(chunks).toEqual([{ text: "Hi", sequenceNumber: 0, at: 1_000_000 }]);
    coalescer.push("a");
    await jest.advanceTimersByTimeAsync(39);
    coalescer.push("b");
    expect(chunks).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(chunks[1]).toEqual({ text: "ab", sequenceNumber: 1, at: 1_000_040 });
    await coalescer.end();
    expect(chunks).toHaveLength(2);
  });

  it("flushes at maxChars, breaking at whitespace near the limit, and the rest keeps its own delay bound", async () => {
    const { chunks, onChunk } = recorder();
    const coalescer = new TokenCoalescer({ maxDelayMs: 1000, maxChars: 20, onChunk });
    coalescer.push("The quick brown fox ");
    await jest.advanceTimersByTimeAsync(0);
    expect(chunks.map((c) => c.text)).toEqual(["The quick brown fox "]);
    coalescer.push("jumps over the lazy dog");
    await jest.advanceTimersByTimeAsync(0);
    // 20 chars would cut "jumps over the lazy " + "dog"; the break lands after the last space in the last quarter.
    expect(chunks[1]!.text).toBe("jumps over the lazy ");
    await jest.advanceTimersByTimeAsync(1000);
    expect(chunks.map((c) => c.text).join("")).toBe("The quick brown fox jumps over the lazy dog");
    expect(chunks[2]!.at - chunks[1]!.at).toBe(1000);
  });

  it("cuts hard when no whitespace is near the limit and never splits a surrogate pair", () => {
    expect(chunkBoundary("abcdefghij", 8)).toBe(8);
    expect(chunkBoundary("abc defghij", 8)).toBe(8); // the space is outside the last quarter
    expect(chunkBoundary("abcdef ghij", 8)).toBe(7);
    expect(chunkBoundary("abcdefghij\nklmnop", 12)).toBe(11);
    const emoji = "aaa😀bbb"; // the emoji occupies code units 3 and 4
    expect(chunkBoundary(emoji, 4)).toBe(3);
    expect(chunkBoundary("😀", 1)).toBe(2);
  });

  it("maxDelayMs = 0 gives exactly one chunk per delta, in order", async () => {
    const { chunks, onChunk } = recorder();
    const coalescer = new TokenCoalescer({ maxDelayMs: 0, maxChars: 3, onChunk });
    const deltas = ["Hello", ",", " wor", "ld", "\n", "🚀🚀"];
    for (const d of deltas) coalescer.push(d);
    await coalescer.end();
    expect(chunks.map((c) => c.text)).toEqual(deltas);
    expect(chunks.map((c) => c.sequenceNumber)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("splits chunks above the byte bound and keeps text identical (multi-byte characters intact)", async () => {
    const { chunks, onChunk } = recorder();
    const coalescer = new TokenCoalescer({ maxDelayMs: 0, maxChars: 10, maxChunkBytes: 16, onChunk });
    const delta = "日本語のテキスト🚀 and ascii text that is long";
    coalescer.push(delta);
    await coalescer.end();
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) expect(byteLength(c.text)).toBeLessThanOrEqual(16);
    expect(chunks.map((c) => c.text).join("")).toBe(delta);
    expect(chunks.map((c) => c.sequenceNumber)).toEqual(chunks.map((_, i) => i));
  });

  it("flushes everything at the end, with text identical across many random deltas", async () => {
    const { chunks, onChunk } = recorder();
    const coalescer = new TokenCoalescer({ maxDelayMs: 30, maxChars: 17, onChunk });
    const alphabet = ["a", "b", " ", "\n", "é", "😀", "\\", '"', "日"];
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const script: [number, string][] = [];
    for (let i = 0; i < 300; i++) {
      let d = "";
      const len = Math.floor(rand() * 6);
      for (let j = 0; j < len; j++) d += alphabet[Math.floor(rand() * alphabet.length)];
      script.push([Math.floor(rand() * 20), d]);
    }
    const arrivals = await feed(coalescer, script);
    await coalescer.end();
    expect(chunks.map((c) => c.text).join("")).toBe(arrivals.map((a) => a.delta).join(""));
    for (const c of chunks) {
      expect(c.text.length).toBeLessThanOrEqual(17);
      expect(c.text).not.toMatch(/[\ud800-\udbff]$/); // no dangling high surrogate
    }
  });

  it("publishes serially even when onChunk is slow, and end() reports a failure", async () => {
    jest.useRealTimers();
    const order: string[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const coalescer = new TokenCoalescer({
      maxDelayMs: 0,
      maxChars: 10,
      onChunk: async (text) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setImmediate(r));
        order.push(text);
        inFlight--;
        if (text === "boom") throw new Error("sink down");
      },
    });
    for (const d of ["1", "2", "boom", "3"]) coalescer.push(d);
    await expect(coalescer.end()).rejects.toThrow("sink down");
    expect(order).toEqual(["1", "2", "boom", "3"]);
    expect(maxInFlight).toBe(1);
    expect(() => coalescer.push("late")).toThrow(/after end/);
  });
});

describe("TokenCoalescer in reading-pace mode", () => {
  const PACE = { readingTokensPerSecond: 15, maxWindowMs: 1000 };
  const START = 1_000_000;

  /** A model at `tokensPerSecond` writing `count` deltas of a few characters; returns the chunks, the arrivals and the kept tail. */
  async function model(count: number, tokensPerSecond: number, maxChars = 4000) {
    const { chunks, onChunk } = recorder();
    const coalescer = new TokenCoalescer({ maxDelayMs: 250, maxChars, readingPace: PACE, onChunk });
    const script: [number, string][] = Array.from({ length: count }, (_, i) => [i === 0 ? 0 : 1000 / tokensPerSecond, `w${i} `]);
    const arrivals = await feed(coalescer, script);
    const last = await coalescer.end({ keepTail: true });
    return { chunks, arrivals, last, tail: coalescer.keptTail, text: arrivals.map((a) => a.delta).join("") };
  }

  /** When each delta left: the time of the chunk that carried its last character (the tail leaves at `endAt`). */
  function departures(chunks: Emitted[], arrivals: { delta: string; at: number }[], tail: string | undefined, endAt: number): number[] {
    const ends: { end: number; at: number }[] = [];
    let end = 0;
    for (const c of chunks) ends.push({ end: (end += c.text.length), at: c.at });
    if (tail) ends.push({ end: end + tail.length, at: endAt });
    let offset = 0;
    return arrivals.map((a) => {
      offset += a.delta.length;
      return ends.find((e) => e.end >= offset)!.at;
    });
  }

  it("delivers everything that arrives in the first 2 s within max_delay_ms, the first delta at once", async () => {
    const { chunks, arrivals, tail } = await model(400, 80);
    expect(chunks[0]).toEqual({ text: "w0 ", sequenceNumber: 0, at: START });
    const left = departures(chunks, arrivals, tail?.value, Date.now());
    arrivals.forEach((a, i) => {
      if (a.at - START < 2000) expect([i, left[i]! - a.at <= 250]).toEqual([i, true]);
    });
  });

  it("grows the window to max_window_ms once the text is ahead of the reader, never beyond it", async () => {
    const { chunks, arrivals, tail } = await model(2000, 80);
    const left = departures(chunks, arrivals, tail?.value, Date.now());
    const waits = arrivals.map((a, i) => left[i]! - a.at);
    expect(Math.max(...waits)).toBeLessThanOrEqual(1000);
    // After the opening, chunks leave about a second apart: a fiftieth of one message per token, counting the final.
    const late = chunks.filter((c) => c.at - START > 3000);
    for (let i = 1; i < late.length; i++) expect(late[i]!.at - late[i - 1]!.at).toBeGreaterThanOrEqual(990);
    expect(chunks.length + 1).toBeLessThanOrEqual(2000 / 50);
  });

  it("never leaves a reader at 15 tokens/s from the first token with nothing to read while more was written", async () => {
    const { chunks, arrivals, tail } = await model(2000, 80);
    const left = departures(chunks, arrivals, tail?.value, Date.now());
    // The reader starts on token i when it has it and has read the one before (1000/15 ms each).
    let free = START;
    arrivals.forEach((a, i) => {
      const starved = left[i]! - Math.max(free, a.at);
      expect([i, starved <= 0]).toEqual([i, true]);
      free = Math.max(left[i]!, free) + 1000 / 15;
    });
  });

  it("keeps the text exact and the order, and keeps the last chunk for the final to carry", async () => {
    const { chunks, text, tail, last } = await model(300, 80, 120);
    expect(chunks.map((c) => c.sequenceNumber)).toEqual(chunks.map((_, i) => i));
    for (const c of chunks) expect(c.text.length).toBeLessThanOrEqual(120);
    expect(tail).toEqual({ sequenceNumber: chunks.length, value: expect.any(String) });
    expect(last).toBe(tail!.sequenceNumber);
    expect(chunks.map((c) => c.text).join("") + tail!.value).toBe(text);
  });

  it("keeps no tail when nothing is buffered, and flushes it all without keepTail", async () => {
    const { chunks, onChunk } = recorder();
    const coalescer = new TokenCoalescer({ maxDelayMs: 250, maxChars: 400, readingPace: PACE, onChunk });
    coalescer.push("only");
    expect(await coalescer.end({ keepTail: true })).toBe(0);
    expect(coalescer.keptTail).toBeUndefined();
    const other = new TokenCoalescer({ maxDelayMs: 250, maxChars: 400, readingPace: PACE, onChunk });
    other.push("a");
    other.push("b");
    expect(await other.end()).toBe(1);
    expect(other.keptTail).toBeUndefined();
    expect(chunks.map((c) => c.text)).toEqual(["only", "a", "b"]);
  });
});
