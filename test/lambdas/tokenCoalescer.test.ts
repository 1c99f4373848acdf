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
