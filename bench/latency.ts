/**
 * Token delivery latency: maps each token the Bedrock stand-in emitted (with its emission time) to the chunk that
 * carried its last character to the subscriber, by text offsets. Stand-in and client run in one process and read
 * the same clock (performance.timeOrigin + performance.now()), so the difference is the platform's delivery time.
 */

export interface EmittedTokenTime {
  value: string;
  /** Epoch ms when the stand-in wrote the token's frame. */
  at: number;
}

export interface ReceivedChunk {
  sequenceNumber: number;
  value: string;
  /** Epoch ms when the subscriber got the `data` message. */
  receivedAt: number;
}

export interface TokenLatencyResult {
  /** One entry per delivered token, in emission order (ms). */
  latencies: number[];
  /** Tokens whose text never arrived in a chunk (a lost or late chunk). */
  undelivered: number;
  /** The chunks, concatenated in sequence order, equal the emitted text. */
  textMatches: boolean;
}

export function tokenLatencies(emitted: readonly EmittedTokenTime[], chunks: readonly ReceivedChunk[]): TokenLatencyResult {
  const ordered = [...chunks].sort((a, b) => a.sequenceNumber - b.sequenceNumber);
  // Contiguous prefix only: a token after a gap has not reached the reader in order yet.
  const prefix: ReceivedChunk[] = [];
  for (const [i, c] of ordered.entries()) {
    if (c.sequenceNumber !== i) break;
    prefix.push(c);
  }
  const chunkEnds: number[] = [];
  let end = 0;
  for (const c of prefix) chunkEnds.push((end += c.value.length));

  const latencies: number[] = [];
  let undelivered = 0;
  let tokenEnd = 0;
  let chunk = 0;
  for (const t of emitted) {
    tokenEnd += t.value.length;
    while (chunk < chunkEnds.length && chunkEnds[chunk]! < tokenEnd) chunk++;
    if (chunk >= chunkEnds.length) {
      undelivered++;
      continue;
    }
    latencies.push(prefix[chunk]!.receivedAt - t.at);
  }
  const textMatches = ordered.map((c) => c.value).join("") === emitted.map((t) => t.value).join("");
  return { latencies, undelivered, textMatches };
}
