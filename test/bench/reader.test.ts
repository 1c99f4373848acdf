/** The bench's simulated reader: when it starves, and how far the model's text runs ahead of the subscriber's. */
import { readStream, worstOf } from "../../bench/reader";

test("a reader slower than the deliveries never starves; the lead is the slowest token and the most tokens in flight", () => {
  // Four tokens written 10 ms apart, delivered in two chunks; a reader at 10 tokens/s needs 100 ms a token.
  const r = readStream([0, 10, 20, 30], [5, 25, 45, 45], 10);
  expect(r).toEqual({ starvedMs: 0, worstWaitMs: 0, worstLeadTokens: 2, worstLeadMs: 25 });
});

test("a reader who has read everything waits for a token the model already wrote: that wait is starvation", () => {
  // 100 tokens/s reads token 0 by 15 ms; token 1 was written at 12 ms but arrives at 250 ms.
  const r = readStream([0, 12], [5, 250], 100);
  expect(r.starvedMs).toBe(250 - 15);
  expect(r.worstWaitMs).toBe(235);
});

test("waiting for a token the model has not written yet is not starvation", () => {
  // The model is slower than the reader: token 1 is written at 200 ms and delivered at once.
  expect(readStream([0, 200], [5, 205], 100).starvedMs).toBe(5);
  expect(readStream([0, 200], [5, 200], 100).starvedMs).toBe(0);
});

test("several streams: starvation adds up, the leads are the worst of any", () => {
  const a = { starvedMs: 3, worstWaitMs: 3, worstLeadTokens: 4, worstLeadMs: 100 };
  const b = { starvedMs: 5, worstWaitMs: 2, worstLeadTokens: 9, worstLeadMs: 50 };
  expect(worstOf([a, b])).toEqual({ starvedMs: 8, worstWaitMs: 3, worstLeadTokens: 9, worstLeadMs: 100 });
  expect(worstOf([])).toEqual({ starvedMs: 0, worstWaitMs: 0, worstLeadTokens: 0, worstLeadMs: 0 });
});
