/**
 * The Function URL's logic against dynalite, with a fake token verifier, a scripted model and a response stream that
 * records what the client would see: refusals before anything runs, the NDJSON answer, a disconnect that stops the
 * generation as stopGeneration does, and a generation that throws leaving nothing half-done.
 */
import { Writable } from "node:stream";
import type { BedrockRuntimeClient, ConverseStreamOutput } from "@aws-sdk/client-bedrock-runtime";
import { DynamoDBDocumentClient, ScanCommand } from "@aws-sdk/lib-dynamodb";
import type { Context, LambdaFunctionURLEvent } from "aws-lambda";
import { resourceNames } from "../../config/names";
import { NDJSON_CONTENT_TYPE, parseNdjsonLine } from "../../contracts/functionUrl";
import type { StreamEvent } from "../../contracts/streamEvents";
import { MessageStore } from "../../lambdas/shared/messageStore";
import { UsageTable } from "../../lambdas/shared/usageTable";
import type { HistoryStore } from "../../lambdas/stream-worker/history";
import { urlStream, type HttpResponseMetadata, type ResponseStream, type UrlStreamDeps } from "../../lambdas/url-stream/urlStream";
import { startDynamo, type LocalDynamo } from "../../local/dynamo";
import { localConfig } from "../local/services/localConfig";
import { recordingTelemetry, settings, textStream } from "./support/workerFixtures";

const MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0";
let dynamo: LocalDynamo;
let doc: DynamoDBDocumentClient;
let messages: MessageStore;
let usage: UsageTable;
let messagesTable: string;
let n = 0;

beforeAll(async () => {
  const config = await localConfig();
  dynamo = await startDynamo(config);
  doc = DynamoDBDocumentClient.from(dynamo.client);
  messagesTable = resourceNames(config).messagesTable;
  messages = new MessageStore({ doc, tableName: messagesTable, ttlDays: 1 });
  usage = new UsageTable({ doc, tableName: resourceNames(config).usageTable });
});
afterAll(() => dynamo.close());

/** What the client of one request sees: the prelude's status and headers, then the body. */
class ClientView extends Writable {
  metadata?: HttpResponseMetadata;
  body = "";
  constructor(private readonly onLine: (view: ClientView) => void = () => {}) {
    super();
  }
  override _write(chunk: Buffer, _encoding: string, callback: () => void): void {
    this.body += chunk.toString("utf8");
    this.onLine(this);
    callback();
  }
  get events(): StreamEvent[] {
    return this.body.split("\n").filter(Boolean).map(parseNdjsonLine);
  }
  get json(): unknown {
    return JSON.parse(this.body);
  }
}

/** A model that writes `count` deltas 5 ms apart until its call is aborted; reports what it saw. */
function slowModel(count: number) {
  const seen = { calls: 0, aborted: false, prompts: [] as string[] };
  const client = {
    send: async (command: { input: { messages: { content: { text: string }[] }[] } }, options?: { abortSignal?: AbortSignal }) => {
      seen.calls++;
      seen.prompts.push(command.input.messages.at(-1)!.content[0]!.text);
      options?.abortSignal?.addEventListener("abort", () => (seen.aborted = true));
      const steps = textStream(Array.from({ length: count }, (_, i) => `w${i} `)) as ConverseStreamOutput[];
      return {
        stream: (async function* () {
          for (const step of steps) {
            await new Promise((r) => setTimeout(r, 5));
            if (options?.abortSignal?.aborted) return;
            yield step;
          }
        })(),
      };
    },
  } as unknown as BedrockRuntimeClient;
  return { client, seen };
}

const TOKENS: Record<string, { sub: string } | string> = { "good-alice": { sub: "sub-alice" }, expired: "Token has expired." };
const tokens = { verify: async (t: string) => (typeof TOKENS[t] === "object" ? { ok: true as const, claims: TOKENS[t] as { sub: string } } : { ok: false as const, message: (TOKENS[t] as string) ?? "You are not authorized to make this call." }) };

function deps(bedrock: BedrockRuntimeClient, overrides: Partial<UrlStreamDeps["generation"]> = {}): UrlStreamDeps {
  const telemetry = recordingTelemetry();
  return {
    tokens,
    admitSettings: { maxPromptChars: 1000, defaultModelId: MODEL, allowedModelIds: [MODEL], clientDeliveryChoice: false },
    messages,
    limits: { table: usage, settings: { maxConcurrentGenerations: 2, dailyOutputTokens: 1_000_000, maxTokens: 512, generationSlotSeconds: 90 } },
    generation: { bedrock, settings, stopPollIntervalMs: 20, logger: telemetry.logger, metrics: telemetry.metrics, ...overrides },
    httpResponseStream: (stream: ResponseStream, metadata: HttpResponseMetadata) => {
      (stream as unknown as ClientView).metadata = metadata;
      return stream;
    },
  };
}

function post(body: unknown, authorization?: string, method = "POST"): LambdaFunctionURLEvent {
  return {
    headers: authorization === undefined ? {} : { authorization },
    requestContext: { http: { method } },
    body: typeof body === "string" ? body : JSON.stringify(body),
    isBase64Encoded: false,
  } as unknown as LambdaFunctionURLEvent;
}

/** A fresh invocation's context: Lambda's request id is per invocation (admission refuses a second claim by one). */
const context = () => ({ awsRequestId: `req-${++n}`, getRemainingTimeInMillis: () => 60_000 }) as unknown as Context;
const fresh = () => ({ sessionId: `url-session-${++n}`, messageId: `url-message-${n}`, prompt: 'Say "hi" \\ there' });
const run = async (event: LambdaFunctionURLEvent, d: UrlStreamDeps, view = new ClientView()) => (await urlStream(event, view as unknown as ResponseStream, context(), d), view);
const recordsOf = async (sessionId: string) => (await doc.send(new ScanCommand({ TableName: messagesTable }))).Items!.filter((i) => i.sessionId === sessionId);

describe("refused before anything runs", () => {
  it.each([
    ["no token", undefined, "Valid authorization header not provided."],
    ["a bad token", "forged", "You are not authorized to make this call."],
    ["an expired token", "Bearer expired", "Token has expired."],
  ])("%s: 401 with AppSync's message, no record, no model call", async (_, authorization, message) => {
    const model = slowModel(3);
    const input = fresh();
    const view = await run(post(input, authorization), deps(model.client));
    expect(view.metadata).toEqual({ statusCode: 401, headers: { "content-type": "application/json", "cache-control": "no-store" } });
    expect(view.json).toEqual({ error: { message, type: "UnauthorizedException" } });
    expect(model.seen.calls).toBe(0);
    expect(await recordsOf(input.sessionId)).toEqual([]);
  });

  it("with a good token: GET is 405, a body that is not a JSON object 400, a bad input sendQuery's own ValidationError", async () => {
    const model = slowModel(3);
    const d = deps(model.client);
    expect((await run(post(fresh(), "good-alice", "GET"), d)).metadata?.statusCode).toBe(405);
    for (const body of ["not json", "[1]", "null"]) {
      const view = await run(post(body, "good-alice"), d);
      expect([view.metadata?.statusCode, view.json]).toEqual([400, { error: { type: "ValidationError", message: expect.stringContaining("JSON object") } }]);
    }
    const view = await run(post({ sessionId: "short", prompt: "" }, "Bearer good-alice"), d);
    expect([view.metadata?.statusCode, view.json]).toEqual([400, { error: { type: "ValidationError", message: "sessionId must be 8-64 letters, digits, '-' or '_'; prompt must not be empty" } }]);
    expect(model.seen.calls).toBe(0);
  });
});

describe("an admitted question", () => {
  it("streams NDJSON events whose chunks add up to the final's content; the record is COMPLETE", async () => {
    const model = slowModel(5);
    const input = fresh();
    const view = await run(post(input, "Bearer good-alice"), deps(model.client));
    expect(view.metadata).toEqual({ statusCode: 200, headers: { "content-type": NDJSON_CONTENT_TYPE, "cache-control": "no-store" } });
    expect(view.body.endsWith("\n")).toBe(true);
    const final = view.events.at(-1)!;
    expect(final).toMatchObject({ action: "final_response", userId: "sub-alice", data: { sessionId: input.sessionId, messageId: input.messageId, content: "w0 w1 w2 w3 w4 " } });
    expect(model.seen.prompts).toEqual([input.prompt]);
    expect((await messages.read({ userId: "sub-alice", ...input }))?.status).toBe("COMPLETE");
  });

  it("the client's disconnect flags the message as stopGeneration does: the model call is aborted, the record ends STOPPED", async () => {
    const model = slowModel(2000);
    const input = fresh();
    const view = new ClientView((v) => {
      if (v.events.length === 2) v.destroy(new Error("socket hang up"));
    });
    await run(post(input, "good-alice"), deps(model.client, { settings: { ...settings, batchMaxDelayMs: 0 } }), view);
    expect(model.seen.aborted).toBe(true);
    const record = await messages.read({ userId: "sub-alice", ...input });
    expect(record?.status).toBe("STOPPED");
    const final = parseNdjsonLine(record!.events.at(-1)!);
    expect(final).toMatchObject({ action: "final_response", data: { stopReason: "stopped" } });
  });

  it("a generation that throws ends with an error line, its record FAILED, its slot released", async () => {
    const model = slowModel(3);
    const input = fresh();
    const broken = { loadConversation: () => Promise.reject(new Error("history table unreachable")) } as unknown as HistoryStore;
    const view = await run(post(input, "good-alice"), deps(model.client, { history: broken }));
    expect(view.events.at(-1)).toMatchObject({ action: "error", data: { code: "INTERNAL_ERROR", retryable: true } });
    expect((await messages.read({ userId: "sub-alice", ...input }))?.status).toBe("FAILED");
    const slots = (await usage.readToday("sub-alice", new Date().toISOString().slice(0, 10))).slots ?? {};
    expect(Object.keys(slots).filter((k) => k.startsWith(input.sessionId))).toEqual([]);
    expect(model.seen.calls).toBe(0);
  });
});
