/**
 * What every published client is put through, written once against a small adapter (ClientUnderTest) that each
 * library's test implements with that library's own API. The runner only records what the client surfaced (events,
 * errors, outcomes) as plain JSON: the Amplify run happens in a child process and the test asserts on its report.
 */
import { randomUUID } from "node:crypto";
import { EVENT_ACTIONS, finalTail, parseEvent, type StreamEvent } from "../../../contracts/streamEvents";
import { START_OUTCOMES, type SocketWatch } from "./socketWatch";

/** The prompt every client asks; the stand-in's answer to it is deterministic (local/bedrock/answer.ts). */
export const PROMPT = "How do published AppSync clients receive a streamed answer?";
/** Ids the schema refuses (ID_PATTERN: 8-64 letters, digits, - and _). */
export const BAD_SESSION_ID = "bad id!";
const STREAM_DEADLINE_MS = 20_000;

/** An error as the library handed it to the caller, reduced to what a caller would read. */
export interface SurfacedError {
  message: string;
  errorType?: string;
  /** The HTTP status, when the library exposes the response. */
  status?: number;
  /** The HTTP body, when the library exposes the response. */
  body?: string;
}

/** How one mutation came back: data, or the error the library raised. */
export interface MutationOutcome {
  data?: unknown;
  error?: SurfacedError;
}

/** What one library must do, with its own API, unmodified. */
export interface ClientUnderTest {
  /** Subscribes to receiveMessages(sessionId): each Channel's `data` goes to onData, a library error to onError. */
  subscribe(sessionId: string, onData: (eventJson: string) => void, onError: (message: string) => void): { close(): void };
  /** sendQuery(input) as a mutation with variables. */
  sendQuery(input: { sessionId: string; prompt: string; messageId: string }): Promise<MutationOutcome>;
}

/** The client, the sockets it opens, and the token it sends. */
export interface ScenarioContext {
  client: ClientUnderTest;
  sockets: SocketWatch;
  /** Mints a token for alice of the kind this client sends (an expired one for a negative lifetime). */
  mintToken(expiresInSeconds?: number): Promise<string>;
  /** The token the client sends from now on. */
  useToken(token: string): void;
}

/** One subscription's first real-time verdict (start_ack, error or connection_error) and what it delivered. */
export interface SubscriptionObservation {
  startFrame: string;
  events: StreamEvent[];
  errors: string[];
}

/** The client's report: one entry per scenario. */
export interface Observations {
  stream: SubscriptionObservation & { sessionId: string; messageId: string; sent: MutationOutcome };
  badSessionMutation: MutationOutcome;
  badSessionSubscription: SubscriptionObservation;
  expiredMutation: MutationOutcome;
  /** A start with an expired token on a connection opened with a good one (AppSync checks each start's auth). */
  expiredStart: SubscriptionObservation;
  /** A new connection with an expired token. */
  expiredConnect: SubscriptionObservation;
}

/** A subscription's events and errors as they arrive, with a wait that is woken by each arrival. */
class LiveSubscription {
  readonly events: StreamEvent[] = [];
  readonly errors: string[] = [];
  private readonly handle: { close(): void };
  private wake: () => void = () => undefined;

  constructor(client: ClientUnderTest, sessionId: string) {
    const onData = (json: string) => {
      this.events.push(parseEvent(json));
      this.wake();
    };
    const onError = (message: string) => {
      this.errors.push(message);
      this.wake();
    };
    this.handle = client.subscribe(sessionId, onData, onError);
  }

  /** Resolves once `done()` holds after an arrival; fails after `timeoutMs`, naming `what`. */
  until(done: () => boolean, what: string, timeoutMs = STREAM_DEADLINE_MS): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${this.events.length} events, errors ${JSON.stringify(this.errors)})`)), timeoutMs);
      this.wake = () => {
        if (!done()) return;
        clearTimeout(timer);
        resolve();
      };
      this.wake();
    });
  }

  observation(startFrame: string): SubscriptionObservation {
    return { startFrame, events: [...this.events], errors: [...this.errors] };
  }

  close(): void {
    this.handle.close();
  }
}

/** True once the message's error event, or its final event and every chunk up to lastSequenceNumber (its tail included), arrived. */
function messageEnded(events: StreamEvent[], messageId: string): boolean {
  const mine = events.filter((e) => e.data.messageId === messageId);
  if (mine.some((e) => e.action === EVENT_ACTIONS.error)) return true;
  const final = mine.find((e) => e.action === EVENT_ACTIONS.final);
  if (!final || final.action !== EVENT_ACTIONS.final) return false;
  const seen = new Set(mine.flatMap((e) => (e.action === EVENT_ACTIONS.token ? [e.data.token.sequenceNumber] : [])));
  const tail = finalTail(final.data);
  if (tail) seen.add(tail.sequenceNumber);
  return Array.from({ length: final.data.lastSequenceNumber + 1 }, (_, n) => n).every((n) => seen.has(n));
}

/** Subscribes and waits for the server's verdict on the start, from the socket (the libraries may not say). */
async function subscribeAndSettle(ctx: ScenarioContext, sessionId: string): Promise<{ live: LiveSubscription; startFrame: string }> {
  const verdict = ctx.sockets.nextFrame(START_OUTCOMES);
  const live = new LiveSubscription(ctx.client, sessionId);
  return { live, startFrame: (await verdict).type };
}

/** Subscribe, wait until live, send, and record the whole stream of one answer. */
async function streamScenario(ctx: ScenarioContext): Promise<Observations["stream"]> {
  const sessionId = newSessionId();
  const messageId = randomUUID();
  const { live, startFrame } = await subscribeAndSettle(ctx, sessionId);
  try {
    const sent = await ctx.client.sendQuery({ sessionId, prompt: PROMPT, messageId });
    if (!sent.error) await live.until(() => messageEnded(live.events, messageId), `the end of message ${messageId}`);
    return { ...live.observation(startFrame), sessionId, messageId, sent };
  } finally {
    live.close();
  }
}

/** A subscription the server refuses: waits for the library to surface the refusal as an error. */
async function refusedSubscription(ctx: ScenarioContext, sessionId: string): Promise<SubscriptionObservation> {
  const { live, startFrame } = await subscribeAndSettle(ctx, sessionId);
  try {
    await live.until(() => live.errors.length > 0, `the library's error for a refused subscription (server said ${startFrame})`);
    return live.observation(startFrame);
  } finally {
    live.close();
  }
}

/** A session id the schema accepts. */
const newSessionId = (): string => `client-${randomUUID().slice(0, 13)}`;

/** With a subscription keeping the connection open, the token expires, and a second subscription starts. */
async function expiredStartScenario(ctx: ScenarioContext, expired: string): Promise<SubscriptionObservation> {
  const { live: holder } = await subscribeAndSettle(ctx, newSessionId());
  try {
    ctx.useToken(expired);
    return await refusedSubscription(ctx, newSessionId());
  } finally {
    holder.close();
  }
}

/**
 * Runs every scenario in order: the stream; a bad sessionId on the mutation and on the subscription; an expired
 * token on a start over an open connection, on the mutation, and on a new connection (once the library has closed
 * its idle socket).
 */
export async function runScenarios(ctx: ScenarioContext): Promise<Observations> {
  ctx.useToken(await ctx.mintToken());
  const stream = await streamScenario(ctx);
  const badSessionMutation = await ctx.client.sendQuery({ sessionId: BAD_SESSION_ID, prompt: PROMPT, messageId: randomUUID() });
  const badSessionSubscription = await refusedSubscription(ctx, BAD_SESSION_ID);
  const expired = await ctx.mintToken(-60);
  const expiredStart = await expiredStartScenario(ctx, expired);
  const expiredMutation = await ctx.client.sendQuery({ sessionId: newSessionId(), prompt: PROMPT, messageId: randomUUID() });
  await ctx.sockets.allClosed();
  const expiredConnect = await refusedSubscription(ctx, newSessionId());
  return { stream, badSessionMutation, badSessionSubscription, expiredMutation, expiredStart, expiredConnect };
}
