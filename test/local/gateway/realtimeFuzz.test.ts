/**
 * Fuzzes the real-time endpoint: a few thousand frames from a seeded PRNG (random JSON, protocol messages with wrong or
 * missing fields, truncated messages, random bytes, deep nesting, oversized frames) on several connections, with and
 * without a valid connect header, replaced as the gateway closes them. Meanwhile a legitimate subscriber, connected
 * with client/realtime.ts, must receive every event published during and after the fuzzing, in order. Bounded in frames
 * and in time; the seed is fixed, so a failure replays.
 */
import WebSocket from "ws";
import { PUBLISH_RESPONSE_MUTATION, RECEIVE_MESSAGES_SUBSCRIPTION } from "../../../contracts/graphqlOperations";
import { subscribe, type Subscription } from "../../../client/realtime";
import { subjectFor } from "../../../local/issuer";
import { connectRealtime, initConnection, postJwt, signedFetch, startHarness, userPoolAuth, waitFor, type Harness, type RawConnection } from "./harness";
import { seeded } from "../../../local/bedrock/answer";

const SEED = 0x5eed_2026;
const FRAME_BUDGET = 3000;
const TIME_BUDGET_MS = 8000;
const FUZZ_CONNECTIONS = 4;
const MAX_REPLACED_CONNECTIONS = 300;
const PUBLISH_EVERY_FRAMES = 150;
const LEGIT_SESSION = "session-fuzz-legit";
/** The sessions the fuzzing connections' valid starts subscribe to; events are published to the first too. */
const FUZZ_SESSIONS = ["session-fuzz-0001", "session-fuzz-0002"];

/** Random frames of every kind the endpoint must survive, reproducible from the seed. */
class FrameFactory {
  private readonly ids = ["a", "b", "c", "", "x".repeat(200), "dup"];

  constructor(
    private readonly rand: () => number,
    private readonly validAuth: Record<string, string>,
  ) {}

  private int(n: number): number {
    return Math.floor(this.rand() * n);
  }

  private pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  private scalar(): unknown {
    return this.pick([null, true, false, 0, -1, 1e308, 3.14, "", "start", "\u0000\ud800", [], {}, "x".repeat(this.int(64))]);
  }

  private value(depth = 0): unknown {
    if (depth > 3 || this.rand() < 0.5) return this.scalar();
    if (this.rand() < 0.5) return Array.from({ length: this.int(4) }, () => this.value(depth + 1));
    return Object.fromEntries(Array.from({ length: this.int(4) }, () => [this.pick(["type", "id", "payload", "data", "__proto__", "k"]), this.value(depth + 1)]));
  }

  private request(): unknown {
    const sessionId = this.pick(["session-fuzz-0001", "bad id!", "", 12345, null]);
    const query = this.pick([RECEIVE_MESSAGES_SUBSCRIPTION, "subscription { receiveMessages }", "mutation { x }", "query { whoami }", "{", "", null, 7]);
    return { query, variables: this.pick([{ sessionId }, null, [], "x", { sessionId: { nested: sessionId } }]), operationName: this.pick([undefined, "X", 3]) };
  }

  private protocolMessage(): Record<string, unknown> {
    const type = this.pick(["connection_init", "start", "start", "start", "stop", "ka", "data", "subscribe", "complete", 5, null]);
    const authorization = this.pick([this.validAuth, { Authorization: "not-a-token", host: "x" }, {}, "x", undefined]);
    const data = this.pick([JSON.stringify(this.request()), JSON.stringify(this.request()), "{not json", "null", 5, undefined]);
    const payload = this.pick([{ data, extensions: { authorization } }, { data }, null, "x", this.value(), undefined]);
    return { type, id: this.pick([...this.ids, 5, null, undefined]), payload };
  }

  /** A start that can succeed, under one of more ids than the cap allows, so that starts, stops and the cap interleave. */
  private validStart(): Record<string, unknown> {
    const data = JSON.stringify({ query: RECEIVE_MESSAGES_SUBSCRIPTION, variables: { sessionId: this.pick(FUZZ_SESSIONS) } });
    return { type: "start", id: `s-${this.int(300)}`, payload: { data, extensions: { authorization: this.validAuth } } };
  }

  /** One frame: valid starts and stops, protocol-shaped junk, random and truncated JSON, bytes, deep nesting, huge frames. */
  next(): string | Buffer {
    const roll = this.rand();
    if (roll < 0.12) return JSON.stringify(this.validStart());
    if (roll < 0.18) return JSON.stringify({ type: "stop", id: `s-${this.int(300)}` });
    if (roll < 0.21) return JSON.stringify({ type: "connection_init", payload: this.value() });
    if (roll < 0.45) return JSON.stringify(this.protocolMessage());
    if (roll < 0.6) return JSON.stringify(this.value()) ?? "undefined";
    if (roll < 0.8) {
      const text = JSON.stringify(this.protocolMessage());
      return text.slice(0, this.int(text.length));
    }
    if (roll < 0.93) return Buffer.from(Array.from({ length: this.int(64) }, () => this.int(256)));
    if (roll < 0.99) return "[".repeat(1 + this.int(50_000)) + "]".repeat(this.int(3));
    return JSON.stringify({ type: "start", id: "huge", payload: { data: "x".repeat(256 * 1024 + this.int(256 * 1024)) } });
  }
}

/** The fuzzing connections: some with a valid connect header, some with none; a closed one is replaced (bounded). */
class FuzzConnections {
  readonly all: RawConnection[] = [];
  private replaced = 0;

  constructor(
    private readonly h: Harness,
    private readonly validAuth: Record<string, string>,
  ) {
    for (let i = 0; i < FUZZ_CONNECTIONS; i++) this.open(i);
  }

  private open(slot: number): void {
    const header = slot % 2 === 0 ? this.validAuth : { host: this.validAuth.host };
    this.all[slot] = connectRealtime(this.h.gateway, header);
  }

  /** An open connection for the next frame, replacing closed ones while the budget lasts; null when none is open. */
  pick(rand: () => number): RawConnection | null {
    for (let slot = 0; slot < FUZZ_CONNECTIONS; slot++) {
      if (this.all[slot].ws.readyState === WebSocket.CLOSED && this.replaced < MAX_REPLACED_CONNECTIONS) {
        this.replaced += 1;
        this.open(slot);
      }
    }
    const open = this.all.filter((c) => c.ws.readyState === WebSocket.OPEN);
    return open.length > 0 ? open[Math.floor(rand() * open.length)] : null;
  }

  closeAll(): void {
    for (const c of this.all) c.ws.terminate();
  }
}

describe("fuzzing the real-time endpoint", () => {
  let h: Harness;
  let legit: Subscription | undefined;
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);
  beforeAll(async () => {
    h = await startHarness();
    process.on("unhandledRejection", onRejection);
  });
  afterAll(async () => {
    process.off("unhandledRejection", onRejection);
    legit?.close();
    await h.close();
  });

  let published = 0;
  const publish = async (sessionId: string, data: string) => {
    const variables = { sessionId, userId: subjectFor("alice"), data };
    const res = await signedFetch(h.gateway.graphqlUrl, JSON.stringify({ query: PUBLISH_RESPONSE_MUTATION, variables }));
    expect(res.status).toBe(200);
  };
  /** One event for the legitimate subscriber, and one for whatever the fuzzing connections subscribed to. */
  const publishLegit = async () => {
    await publish(LEGIT_SESSION, `event ${published++}`);
    await publish(FUZZ_SESSIONS[0], "for the fuzzing connections");
  };

  /** Sends frames until the frame or the time budget is spent, publishing to the legitimate subscriber as it goes. */
  const fuzz = async (frames: FrameFactory, connections: FuzzConnections, rand: () => number) => {
    const deadline = Date.now() + TIME_BUDGET_MS;
    let sent = 0;
    while (sent < FRAME_BUDGET && Date.now() < deadline) {
      const conn = connections.pick(rand);
      if (conn) {
        conn.ws.send(frames.next());
        sent += 1;
      }
      if (sent % PUBLISH_EVERY_FRAMES === 0) await publishLegit();
      // Let the gateway read, answer and close as it goes (and new connections open).
      if (!conn || sent % 20 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    return sent;
  };

  it("keeps the gateway up and the legitimate subscriber served through a few thousand hostile frames", async () => {
    const token = await h.issuer.mintIdToken("alice");
    const received: string[] = [];
    legit = await subscribe({
      realtimeUrl: h.gateway.realtimeUrl,
      graphqlUrl: h.gateway.graphqlUrl,
      authorization: token,
      query: RECEIVE_MESSAGES_SUBSCRIPTION,
      variables: { sessionId: LEGIT_SESSION },
      onData: (d) => received.push((d.receiveMessages as { data: string }).data),
      WebSocketImpl: WebSocket,
    });
    const rand = seeded(SEED);
    const auth = userPoolAuth(h.gateway, token);
    const connections = new FuzzConnections(h, auth);
    const started = Date.now();
    const sent = await fuzz(new FrameFactory(rand, auth), connections, rand);
    const elapsed = Date.now() - started;
    for (let i = 0; i < 5; i++) await publishLegit();

    expect(sent).toBeGreaterThanOrEqual(1000);
    expect(elapsed).toBeLessThan(TIME_BUDGET_MS + 2000);
    await waitFor(() => received.length === published, 5000, "every published event at the legitimate subscriber");
    expect(received).toEqual(Array.from({ length: published }, (_, i) => `event ${i}`));

    // Still up: a new connection is served, and so is HTTP.
    const fresh = connectRealtime(h.gateway, auth);
    await initConnection(fresh);
    expect(fresh.got[0].type).toBe("connection_ack");
    fresh.ws.close();
    expect(await (await postJwt(h.gateway.graphqlUrl, token, "query { whoami }")).json()).toEqual({ data: { whoami: subjectFor("alice") } });

    // Nothing leaked: with the fuzzing connections gone, only the legitimate subscription is left.
    connections.closeAll();
    await waitFor(() => h.gateway.stats.connections === 1, 5000, "only the legitimate connection left");
    expect(h.gateway.stats.activeSubscriptions).toBe(1);
    expect(rejections).toEqual([]);
    expect(h.internalErrors).toEqual([]);
  });
});
