/** `npm start` as a child process, as end-to-end tests use it: one ready line, live endpoints, clean exit on SIGTERM. */
import { spawn } from "node:child_process";
import * as path from "node:path";
import * as readline from "node:readline";
import { GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { ReadyLine } from "../../../local/start";

jest.setTimeout(60000);

const ROOT = path.resolve(__dirname, "..", "..", "..");

test("--ready-json prints the endpoints once ready; SIGTERM stops everything with exit code 0", async () => {
  const child = spawn(path.join(ROOT, "node_modules", ".bin", "tsx"), ["local/start.ts", "--ready-json", "--gateway-port", "0", "--issuer-port", "0", "--no-client-config", "--config-overrides", '{"queue":{"fifo":true}}'], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  try {
    const line = await new Promise<string>((resolve, reject) => {
      readline.createInterface({ input: child.stdout }).once("line", resolve);
      exited.then((code) => reject(new Error(`exited with ${code} before ready: ${stderr}`)));
    });
    const ready = JSON.parse(line) as ReadyLine;
    expect(ready.ready).toBe(true);
    expect(ready.queues.work.url).toMatch(/\.fifo$/);
    for (const url of Object.values(ready.endpoints)) expect(url).toMatch(/^(http|ws):\/\/127\.0\.0\.1:\d+/);

    // A test reaches the queues and DLQs with an SQS client pointed at endpoints.sqs.
    const sqs = new SQSClient({ region: ready.region, endpoint: ready.endpoints.sqs, credentials: ready.credentials });
    const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: ready.queues.work.dlqUrl, AttributeNames: ["FifoQueue"] }));
    expect(attrs.Attributes?.FifoQueue).toBe("true");
    sqs.destroy();
    expect((await fetch(`${ready.endpoints.issuerUrl}/.well-known/jwks.json`)).status).toBe(200);
    // Unsigned, token-less GraphQL is refused.
    const anonymous = await fetch(ready.endpoints.graphqlUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "{ __typename }" }) });
    expect(anonymous.status).toBe(401);

    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    await expect(fetch(ready.endpoints.graphqlUrl)).rejects.toThrow();
    await expect(fetch(ready.endpoints.sqs)).rejects.toThrow();
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
});

test("--exit-on-stdin-close stops the stack when the parent closes stdin", async () => {
  const child = spawn(path.join(ROOT, "node_modules", ".bin", "tsx"), ["local/start.ts", "--ready-json", "--exit-on-stdin-close", "--gateway-port", "0", "--issuer-port", "0", "--no-client-config"], {
    cwd: ROOT,
    stdio: ["pipe", "pipe", "pipe"],
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  try {
    const ready = JSON.parse(await new Promise<string>((resolve) => readline.createInterface({ input: child.stdout }).once("line", resolve))) as ReadyLine;
    child.stdin.end();
    expect(await exited).toBe(0);
    await expect(fetch(ready.endpoints.issuerUrl)).rejects.toThrow();
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
});
