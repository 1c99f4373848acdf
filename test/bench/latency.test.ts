/** The offset mapping behind token delivery latency: each token is timed to the chunk carrying its last character. */
import { tokenLatencies } from "../../bench/latency";
import { percentileOfSorted, summarize } from "../../bench/stats";

const tokens = [
  { value: "Hel", at: 100 },
  { value: "lo, ", at: 110 },
  { value: "wor", at: 120 },
  { value: "ld!", at: 130 },
];

test("a chunk that coalesces several tokens times each from its own emission", () => {
  const r = tokenLatencies(tokens, [
    { sequenceNumber: 0, value: "Hello, ", receivedAt: 150 },
    { sequenceNumber: 1, value: "world!", receivedAt: 200 },
  ]);
  expect(r.latencies).toEqual([50, 40, 80, 70]);
  expect(r.textMatches).toBe(true);
  expect(r.undelivered).toBe(0);
});

test("a token split across chunks counts when its last character arrives; arrival order does not matter", () => {
  const r = tokenLatencies(tokens, [
    { sequenceNumber: 1, value: "llo, world!", receivedAt: 300 },
    { sequenceNumber: 0, value: "He", receivedAt: 105 },
  ]);
  expect(r.latencies).toEqual([200, 190, 180, 170]);
  expect(r.textMatches).toBe(true);
});

test("tokens behind a missing chunk are reported undelivered, not timed", () => {
  const r = tokenLatencies(tokens, [
    { sequenceNumber: 0, value: "Hello, ", receivedAt: 150 },
    { sequenceNumber: 2, value: "ld!", receivedAt: 160 },
  ]);
  expect(r.latencies).toEqual([50, 40]);
  expect(r.undelivered).toBe(2);
  expect(r.textMatches).toBe(false);
});

test("nearest-rank percentiles report measured values", () => {
  const values = Array.from({ length: 100 }, (_, i) => i + 1);
  expect(percentileOfSorted(values, 50)).toBe(50);
  expect(percentileOfSorted(values, 99)).toBe(99);
  expect(summarize([3, 1, 2])).toMatchObject({ count: 3, p50: 2, p99: 3, max: 3 });
  expect(Number.isNaN(summarize([]).p50)).toBe(true);
});
