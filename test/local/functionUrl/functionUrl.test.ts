/**
 * The local Function URL: the runtime's streaming globals and the URL's front, with small streaming handlers: the
 * prelude becomes the status and headers, the body arrives as it is written, a client going away destroys the
 * handler's stream, and the URL's own answers (CORS preflight, 429 beyond the reserved concurrency, 502).
 */
import * as http from "node:http";
import { installLambdaStreamingGlobals, isStreamingHandler, startFunctionUrl, type LocalFunctionUrl, type StreamingHandler } from "../../../local/functionUrl";

installLambdaStreamingGlobals();
const lambda = (globalThis as unknown as { awslambda: { streamifyResponse: (h: StreamingHandler) => StreamingHandler; HttpResponseStream: { from: (s: unknown, p: object) => NodeJS.WritableStream & { setContentType(t: string): void } } } }).awslambda;

let current: StreamingHandler | undefined;
let url: LocalFunctionUrl;
beforeAll(async () => (url = await startFunctionUrl({ handler: () => current, contextFor: () => ({}), reservedConcurrency: 1 })));
afterAll(() => url.close());

/** A promise and its resolver, for the tests to sequence the handler and the client without sleeping. */
function gate<T = void>() {
  let open!: (value: T) => void;
  const opened = new Promise<T>((resolve) => (open = resolve));
  return { open, opened };
}

it("streamifyResponse marks the handler; HttpResponseStream's prelude becomes the status and headers, the body streams after it", async () => {
  const second = gate();
  current = lambda.streamifyResponse(async (event, stream) => {
    const out = lambda.HttpResponseStream.from(stream, { statusCode: 201, headers: { "content-type": "application/x-ndjson", "x-answer": "yes" } });
    out.write(`${JSON.stringify({ method: (event as { requestContext: { http: { method: string } } }).requestContext.http.method, body: (event as { body: string }).body })}\n`);
    await second.opened;
    out.write("second\n");
    out.end();
  });
  expect(isStreamingHandler(current)).toBe(true);
  const res = await fetch(url.url, { method: "POST", headers: { "content-type": "application/json" }, body: '{"q":"héllo"}' });
  expect([res.status, res.headers.get("content-type"), res.headers.get("x-answer"), res.headers.get("transfer-encoding")]).toEqual([201, "application/x-ndjson", "yes", "chunked"]);
  const reader = res.body!.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  // The first line arrived while the handler still waits: it streams, with no trace of the prelude or its 8 null bytes.
  expect(first).toBe('{"method":"POST","body":"{\\"q\\":\\"héllo\\"}"}\n');
  second.open();
  let rest = "";
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += new TextDecoder().decode(chunk.value);
  expect(rest).toBe("second\n");
});

it("without a prelude: status 200 with the stream's content type", async () => {
  current = lambda.streamifyResponse(async (_event, stream) => {
    stream.setContentType("text/plain");
    stream.write("plain");
    stream.end();
  });
  const res = await fetch(url.url, { method: "POST" });
  expect([res.status, res.headers.get("content-type"), await res.text()]).toEqual([200, "text/plain", "plain"]);
});

it("a client that goes away mid-answer destroys the handler's stream: 'error' (a reset), then 'close'", async () => {
  const seen: string[] = [];
  const ended = gate();
  current = lambda.streamifyResponse(async (_event, stream) => {
    const out = lambda.HttpResponseStream.from(stream, { statusCode: 200, headers: {} });
    out.on("error", (e: NodeJS.ErrnoException) => seen.push(`error ${e.code}`));
    out.on("close", () => {
      seen.push("close");
      ended.open();
    });
    out.write("first\n");
    await ended.opened;
  });
  await new Promise<void>((resolve) => {
    const req = http.request(url.url, { method: "POST" }, (res) => res.once("data", () => (req.destroy(), resolve())));
    req.end();
  });
  await ended.opened;
  expect(seen).toEqual(["error ECONNRESET", "close"]);
});

it("beyond the reserved concurrency: 429, as Lambda throttles; a handler failing before it wrote: 502", async () => {
  const release = gate();
  const started = gate();
  current = lambda.streamifyResponse(async (_event, stream) => {
    started.open();
    await release.opened;
    stream.write("done");
    stream.end();
  });
  const first = fetch(url.url, { method: "POST" });
  await started.opened;
  const throttled = await fetch(url.url, { method: "POST" });
  expect([throttled.status, await throttled.json()]).toEqual([429, { Message: "Rate Exceeded." }]);
  release.open();
  expect(await (await first).text()).toBe("done");
  current = lambda.streamifyResponse(async () => {
    throw new Error("boom");
  });
  const failed = await fetch(url.url, { method: "POST" });
  expect([failed.status, await failed.json()]).toEqual([502, { Message: "Internal Server Error" }]);
});

it("CORS: the preflight is answered for loopback pages only, and their responses carry the origin", async () => {
  current = lambda.streamifyResponse(async (_event, stream) => {
    stream.write("ok");
    stream.end();
  });
  const origin = "http://127.0.0.1:4000";
  const pre = await fetch(url.url, { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST" } });
  expect([pre.status, pre.headers.get("access-control-allow-origin"), pre.headers.get("access-control-allow-headers")]).toEqual([200, origin, "authorization,content-type"]);
  const foreign = await fetch(url.url, { method: "OPTIONS", headers: { origin: "https://evil.example" } });
  expect(foreign.headers.get("access-control-allow-origin")).toBeNull();
  expect((await fetch(url.url, { method: "POST", headers: { origin } })).headers.get("access-control-allow-origin")).toBe(origin);
});
