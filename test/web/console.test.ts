/**
 * The web console in a real browser (Debian's Chromium, or the one inside @sparticuz/chromium when that is missing,
 * via playwright-core) against the real local stack, started here as a child process and stopped afterwards.
 * Screenshots go to test-artifacts/.
 */
import { mkdir } from "node:fs/promises";
import * as path from "node:path";
import type { Page } from "playwright-core";
import { answerFor, reasoningFor } from "../../local/bedrock/answer";
import { launchChromium, type Browser } from "./support/browser";
import { REPO_ROOT, startStackProcess, type StackProcess } from "../support/localStackProcess";
import { waitFor } from "../support/waitFor";

const ARTIFACTS = path.join(REPO_ROOT, "test-artifacts");
const STREAM_DEADLINE_MS = 45_000;

/**
 * The lines a reader sees for a markdown text: markers (#, -, 1., >, fences, **, *, `) gone, code lines verbatim.
 * Written independently of the page's renderer, so the comparison checks it rather than mirrors it.
 */
function expectedVisibleLines(markdown: string): string[] {
  const out: string[] = [];
  let inFence = false;
  for (const raw of markdown.split("\n")) {
    if (/^\s*(```|~~~)/.test(raw)) {
      inFence = !inFence;
      continue;
    }
    if (inFence) {
      out.push(raw);
      continue;
    }
    out.push(
      raw
        .trim()
        .replace(/^#{1,6}\s+/, "")
        .replace(/^>\s?/, "")
        .replace(/^([-*+]|\d+[.)])\s+/, "")
        .replace(/\*\*(.+?)\*\*/g, "$1")
        .replace(/`([^`]+)`/g, "$1")
        .replace(/\*([^*\s][^*]*?)\*/g, "$1"),
    );
  }
  return out.map((l) => l.trim()).filter(Boolean);
}

const lines = (text: string): string[] =>
  text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);

describe("web console (Chromium, local stack)", () => {
  let stack: StackProcess | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    // Reading-pace batching, so the page assembles finals that carry the last chunk and paced windows.
    stack = await startStackProcess(["--first-token-ms", "100", "--tokens-per-second", "200", "--config-overrides", JSON.stringify({ batching: { mode: "reading_pace" } })]);
    browser = await launchChromium();
    page = await browser.context.newPage();
    page.on("pageerror", (e) => pageErrors.push(e.message));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  }, 30_000);

  it("serves the page with the stack's client config and signs in a local test user", async () => {
    const response = await page.goto(stack!.webUrl);
    expect(response?.status()).toBe(200);
    await page.getByTestId("signin").waitFor();
    await expect(page.getByTestId("environment").textContent()).resolves.toContain("local");
    await page.getByTestId("local-user").selectOption("alice");
    await page.getByTestId("signin").click();
    await page.getByTestId("prompt").waitFor({ state: "visible" });
    await expect(page.getByTestId("who").textContent()).resolves.toBe("signed in as alice");
  }, 60_000);

  it("streams an answer whose rendered text equals the final answer, line breaks included", async () => {
    const prompt = "How do tokens travel to the browser? [[reasoning]]";
    const modelId = stack!.ready.clientConfig.models.defaultModelId;
    await page.getByTestId("prompt").fill(prompt);
    await page.getByTestId("send").click();
    const message = page.getByTestId("assistant-message").last();
    await message.locator("xpath=self::*[@data-status='done' or @data-status='failed']").waitFor({ timeout: STREAM_DEADLINE_MS });
    await page.screenshot({ path: path.join(ARTIFACTS, "web-console-chat.png"), fullPage: true });
    const status = await message.getAttribute("data-status");
    if (status !== "done") {
      // Say why: the page's own message and the end of the stack's stderr (a crashed stack shows up here).
      throw new Error(`answer ${status}: ${await message.getByTestId("error-text").textContent()}\nlocal stack stderr:\n${stack!.stderr().slice(-3000)}`);
    }

    const expected = answerFor(prompt, modelId).join("");
    // The markdown the page assembled is exactly the stand-in's answer (= final_response.content).
    expect(await message.getByTestId("answer-source").textContent()).toBe(expected);
    // What a reader sees: every line, in order, including the code block's lines and the list's nested items.
    const rendered = await message.getByTestId("answer").innerText();
    expect(lines(rendered)).toEqual(expectedVisibleLines(expected));
    expect(await message.locator("[data-testid=answer] pre code").first().textContent()).toBe(/```\w*\n([\s\S]*?)\n```/.exec(expected)![1]);
    expect(await message.locator("[data-testid=answer] h3, [data-testid=answer] h2").count()).toBeGreaterThan(0);
    // Reasoning is shown apart from the answer, and never inside it.
    expect(await message.getByTestId("reasoning").isHidden()).toBe(false);
    const reasoning = reasoningFor(prompt).join("");
    expect(await message.locator(".reasoning-body").textContent()).toBe(reasoning);
    expect(rendered).not.toContain(reasoning.slice(0, 20));
    expect(await message.getByTestId("error").isHidden()).toBe(true);
  }, 60_000);

  /** Paces the Bedrock stand-in (its control route), so an answer streams long enough to act on it. */
  const pace = (tokensPerSecond: number) =>
    fetch(new URL("/_local/timing", stack!.ready.endpoints.bedrock), { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ tokensPerSecond }) });
  const modelRequest = async (prompt: string) => {
    const log = (await (await fetch(new URL("/_local/requests", stack!.ready.endpoints.bedrock))).json()) as { requests: { prompt: string; stopReason?: string; aborted?: boolean }[] };
    return log.requests.find((r) => r.prompt === prompt);
  };

  it("Stop ends the answer where it was: marked stopped, the model cancelled, the text a prefix of the answer", async () => {
    const prompt = "Stop this answer from the page";
    await pace(20);
    try {
      await page.getByTestId("prompt").fill(prompt);
      await page.getByTestId("send").click();
      const message = page.getByTestId("assistant-message").last();
      await message.locator("xpath=self::*[@data-status='streaming']").waitFor({ timeout: STREAM_DEADLINE_MS });
      await message.getByTestId("stop").click();
      await message.locator("xpath=self::*[@data-status='done' or @data-status='failed']").waitFor({ timeout: STREAM_DEADLINE_MS });
      expect(await message.getAttribute("data-status")).toBe("done");
      expect(await message.getByTestId("message-meta").textContent()).toMatch(/^stopped · /);
      expect(await message.getByTestId("stop").isHidden()).toBe(true);
      const shown = (await message.getByTestId("answer-source").textContent()) ?? "";
      const whole = answerFor(prompt, stack!.ready.clientConfig.models.defaultModelId).join("");
      expect(shown.length).toBeGreaterThan(0);
      expect(shown.length).toBeLessThan(whole.length);
      expect(whole.startsWith(shown)).toBe(true);
      expect((await modelRequest(prompt))?.aborted).toBe(true);
    } finally {
      await pace(200);
    }
  }, 60_000);

  it("going offline mid-stream and back shows 'reconnecting…' and ends with the exact final text", async () => {
    const prompt = "Keep my answer while I am offline";
    await pace(40);
    try {
      await page.getByTestId("prompt").fill(prompt);
      await page.getByTestId("send").click();
      const message = page.getByTestId("assistant-message").last();
      await message.locator("xpath=self::*[@data-status='streaming']").waitFor({ timeout: STREAM_DEADLINE_MS });
      await page.context().setOffline(true);
      await page.getByTestId("connection").waitFor({ state: "visible", timeout: 20_000 });
      // The model finishes while the page is offline: the rest can only come back through the record.
      await waitFor(async () => (await modelRequest(prompt))?.stopReason === "end_turn", { timeoutMs: 30_000, description: "the model's whole answer" });
      await page.context().setOffline(false);
      await message.locator("xpath=self::*[@data-status='done' or @data-status='failed']").waitFor({ timeout: STREAM_DEADLINE_MS });
      expect(await message.getAttribute("data-status")).toBe("done");
      expect(await message.getByTestId("answer-source").textContent()).toBe(answerFor(prompt, stack!.ready.clientConfig.models.defaultModelId).join(""));
      await page.getByTestId("connection").waitFor({ state: "hidden", timeout: 20_000 });
    } finally {
      await page.context().setOffline(false);
      await pace(200);
    }
  }, 90_000);

  it("shows a model failure as a friendly message with a working Retry", async () => {
    const prompt = "Please fail [[fault:throttle-mid-stream]]";
    await page.getByTestId("prompt").fill(prompt);
    await page.getByTestId("send").click();
    const failed = page.locator("[data-testid=assistant-message][data-status=failed]");
    await failed.first().waitFor({ timeout: STREAM_DEADLINE_MS });
    const error = failed.first().getByTestId("error-text");
    expect(await error.textContent()).toMatch(/try again/i);
    expect(await error.textContent()).not.toMatch(/exception|stack|\bat\s+\w+\s*\(/i);
    await page.screenshot({ path: path.join(ARTIFACTS, "web-console-error.png"), fullPage: true });
    const userMessages = await page.getByTestId("user-message").count();
    const firstRun = await failed.first().getAttribute("data-message-id");
    await failed.first().getByTestId("retry").click();
    // Retry sends the prompt again as a new message that takes the failed answer's place (the scripted fault fails it again).
    const again = page.locator(`[data-testid=assistant-message][data-status=failed]:not([data-message-id="${firstRun}"])`);
    await again.waitFor({ timeout: STREAM_DEADLINE_MS });
    expect(await page.locator(`[data-message-id="${firstRun}"]`).count()).toBe(0);
    expect(await page.getByTestId("user-message").count()).toBe(userMessages);
    expect(await again.getByTestId("retry").isVisible()).toBe(true);
  }, 90_000);

  it("compares the four paths side by side on one time scale: AppSync direct and queued, the Function URL, the WebSocket", async () => {
    // 600 tokens at 200 tokens/s: 3 s, so the window grows past the 2 s opening.
    await page.getByTestId("compare-prompt").fill("Compare the delivery paths [[length:600]]");
    await page.getByTestId("compare-run").click();
    await page.locator("#compare-form[data-state=done]").waitFor({ timeout: 4 * STREAM_DEADLINE_MS });
    await page.screenshot({ path: path.join(ARTIFACTS, "web-console-compare.png"), fullPage: true });
    const figures: Record<string, Record<string, number>> = {};
    const scales = new Set<string | null>();
    for (const p of ["DIRECT", "QUEUED", "FUNCTION_URL", "WEBSOCKET"]) {
      const panel = page.getByTestId(`compare-${p}`);
      if ((await panel.getAttribute("data-status")) !== "done") {
        throw new Error(`${p}: ${await panel.getByTestId("path-status").textContent()}\nlocal stack stderr:\n${stack!.stderr().slice(-3000)}`);
      }
      const num = async (id: string) => Number(await panel.getByTestId(id).getAttribute("data-value"));
      figures[p] = { chunks: await num("chunks"), ttft: await num("ttft"), total: await num("total"), requests: await num("requests"), cost: await num("cost") };
      expect(figures[p].chunks).toBeGreaterThan(1);
      expect(figures[p].ttft).toBeGreaterThan(0);
      expect(figures[p].total).toBeGreaterThanOrEqual(figures[p].ttft);
      expect(await panel.getByTestId("batching").textContent()).toBe("reading_pace");
      // One bar per gap between consecutive chunks, one tick per chunk on the shared timeline.
      expect(await panel.locator("svg[data-testid=latency-chart] rect").count()).toBe(figures[p].chunks - 1);
      expect(await panel.locator("svg[data-testid=arrival-timeline] line.tick").count()).toBe(figures[p].chunks);
      scales.add(await panel.locator("svg[data-testid=arrival-timeline]").getAttribute("data-scale-ms"));
    }
    // Every column is drawn on the same time scale: the longest run's.
    expect(scales.size).toBe(1);
    expect(Number([...scales][0])).toBeGreaterThanOrEqual(Math.max(...Object.values(figures).map((f) => f.total)) - 1);
    // The queued path adds SNS, SQS and relay requests on top of the same AppSync mutations.
    expect(figures.QUEUED.requests).toBeGreaterThan(figures.DIRECT.requests);
    // Direct, each request is an AppSync mutation: at most a twentieth of one per token.
    expect(figures.DIRECT.requests).toBeLessThanOrEqual(1000 / 20);
    // The Function URL's events are lines of its own response; a WebSocket message costs a sixth of AppSync's mutation + update.
    expect([figures.FUNCTION_URL.requests, figures.FUNCTION_URL.cost]).toEqual([0, 0]);
    expect(figures.WEBSOCKET.cost).toBeGreaterThan(0);
    expect(figures.WEBSOCKET.cost).toBeLessThan(figures.DIRECT.cost);
  }, 4 * STREAM_DEADLINE_MS + 10_000);

  it.each([
    ["function_url", "Function URL"],
    ["websocket", "WebSocket"],
  ])("chats over the %s transport: the same exact answer, in the same conversation", async (transport) => {
    await page.getByTestId("transport").selectOption(transport);
    const prompt = `Answer me over ${transport}`;
    await page.getByTestId("prompt").fill(prompt);
    // This answer's element: the one after those already there (a WebSocket session opens before it appears).
    const message = page.getByTestId("assistant-message").nth(await page.getByTestId("assistant-message").count());
    await page.getByTestId("send").click();
    await message.locator("xpath=self::*[@data-status='done' or @data-status='failed']").waitFor({ timeout: STREAM_DEADLINE_MS });
    if ((await message.getAttribute("data-status")) !== "done") throw new Error(`${transport}: ${await message.getByTestId("error-text").textContent()}`);
    expect(await message.getByTestId("answer-source").textContent()).toBe(answerFor(prompt, stack!.ready.clientConfig.models.defaultModelId).join(""));
    await page.getByTestId("transport").selectOption("appsync");
  }, STREAM_DEADLINE_MS + 10_000);

  it("signs in to a deployed stack's Cognito user pool with SRP: the password never leaves the page", async () => {
    // Same bundle, a deployed-style client config; Cognito itself is answered by the test (no AWS account here).
    const cognito = await browser!.context.newPage();
    cognito.on("pageerror", (e) => pageErrors.push(e.message));
    const deployed = {
      environment: "dev",
      region: "eu-west-1",
      graphqlUrl: "https://example123.appsync-api.eu-west-1.amazonaws.com/graphql",
      realtimeUrl: "wss://example123.appsync-realtime-api.eu-west-1.amazonaws.com/graphql",
      auth: { type: "cognito", userPoolId: "eu-west-1_AbCdEfGhI", userPoolClientId: "1example23456789" },
      models: { defaultModelId: "m1", allowedModelIds: ["m1"] },
    };
    await cognito.route("**/client-config.json", (route) => route.fulfill({ contentType: "application/json", body: JSON.stringify(deployed) }));
    const calls: { target: string | undefined; body: Record<string, unknown> }[] = [];
    await cognito.route("https://cognito-idp.eu-west-1.amazonaws.com/**", (route) => {
      const req = route.request();
      calls.push({ target: req.headers()["x-amz-target"], body: JSON.parse(req.postData() ?? "{}") });
      return route.fulfill({
        status: 400,
        contentType: "application/x-amz-json-1.1",
        headers: { "x-amzn-errortype": "NotAuthorizedException", "access-control-allow-origin": "*" },
        body: JSON.stringify({ __type: "NotAuthorizedException", message: "Incorrect username or password." }),
      });
    });
    await cognito.goto(stack!.webUrl);
    await cognito.locator("#username").fill("carol");
    await cognito.locator("#password").fill("correct horse battery staple");
    await cognito.getByTestId("signin").click();
    await cognito.getByTestId("signin-error").filter({ hasText: /./ }).waitFor({ timeout: 10_000 });
    expect(await cognito.getByTestId("signin-error").textContent()).toBe("Wrong username or password.");
    expect(calls).toHaveLength(1);
    expect(calls[0].target).toBe("AWSCognitoIdentityProviderService.InitiateAuth");
    expect(calls[0].body).toMatchObject({ AuthFlow: "USER_SRP_AUTH", ClientId: deployed.auth.userPoolClientId, AuthParameters: { USERNAME: "carol" } });
    expect(typeof (calls[0].body.AuthParameters as Record<string, unknown>).SRP_A).toBe("string");
    expect(JSON.stringify(calls)).not.toContain("correct horse");
    await cognito.screenshot({ path: path.join(ARTIFACTS, "web-console-cognito-signin.png") });
    await cognito.close();
  }, 30_000);

  it("raised no script errors in the page", () => {
    expect(pageErrors).toEqual([]);
  });
});
