/**
 * The web console's agent parts in a real browser (Chromium, as test/web/console.test.ts) against the local stack:
 * a tool notice appears while its call runs and turns completed, and the reasoning panel fills while the answer
 * streams. The page's real-time socket is paced (each tool notice and reasoning frame 150 ms after the frame before
 * it), as a tool that takes time and a model that thinks a while would space them: locally they come a few ms apart.
 */
import { mkdir } from "node:fs/promises";
import * as path from "node:path";
import type { Page } from "playwright-core";
import { answerFor, reasoningFor } from "../../local/bedrock/answer";
import { toolLeadIn } from "../../local/bedrock/toolUse";
import { launchChromium, type Browser } from "./support/browser";
import { REPO_ROOT, startStackProcess, type StackProcess } from "../support/localStackProcess";

const ARTIFACTS = path.join(REPO_ROOT, "test-artifacts");
const DEADLINE_MS = 30_000;
const PACED_MS = 150;

describe("web console: tool notices and live reasoning (Chromium, local stack)", () => {
  let stack: StackProcess | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    // The tools said outright, not taken from local.tfvars.
    const overrides = { tools: { enabled: ["current_time", "calculator"], max_rounds: 2 } };
    stack = await startStackProcess(["--first-token-ms", "50", "--tokens-per-second", "100", "--config-overrides", JSON.stringify(overrides)]);
    browser = await launchChromium();
    page = await browser.context.newPage();
    page.on("pageerror", (e) => pageErrors.push(e.message));
    await page.routeWebSocket(/\/graphql(\/realtime)?\?/, (ws) => {
      const server = ws.connectToServer();
      let sending = Promise.resolve();
      server.onMessage((frame) => {
        const paced = typeof frame === "string" && /on_new_reasoning_token|tool_action/.test(frame);
        sending = sending.then(() => new Promise<void>((resolve) => setTimeout(resolve, paced ? PACED_MS : 0))).then(() => ws.send(frame));
      });
      ws.onMessage((frame) => server.send(frame));
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  }, 30_000);

  it("shows the notice while the tool runs, then completed, and fills the reasoning panel while streaming", async () => {
    await page.goto(stack!.webUrl);
    await page.getByTestId("local-user").selectOption("alice");
    await page.getByTestId("signin").click();
    await page.getByTestId("prompt").waitFor({ state: "visible" });

    const prompt = "What time is it? [[reasoning]] [[tool:current_time]]";
    await page.getByTestId("prompt").fill(prompt);
    await page.getByTestId("send").click();
    const message = page.getByTestId("assistant-message").last();
    const body = message.locator(".reasoning-body");

    // The reasoning grows in front of the reader, in an open panel, before the answer has any text.
    await message.getByTestId("reasoning").locator("xpath=self::*[@open]").waitFor({ timeout: DEADLINE_MS });
    const firstSeen = (await body.textContent()) ?? "";
    expect(firstSeen.length).toBeGreaterThan(0);
    await page.waitForFunction(([el, n]) => (el as HTMLElement).textContent!.length > (n as number), [await body.elementHandle(), firstSeen.length] as const, { timeout: DEADLINE_MS });
    expect(await message.getAttribute("data-status")).toBe("streaming");
    const whole = reasoningFor(prompt).join("");
    expect(whole.startsWith(firstSeen)).toBe(true);
    expect(firstSeen.length).toBeLessThan(whole.length);

    // The notice is there while the call runs, then marked completed in place.
    const notice = message.getByTestId("tool-notice");
    // Polled every frame: the started state lasts about PACED_MS, shorter than a locator's polling steps.
    const running = await page.waitForFunction(() => {
      const messages = Array.from(document.querySelectorAll("[data-testid=assistant-message]"));
      const li = messages[messages.length - 1]?.querySelector("[data-testid=tool-notice]") as HTMLElement | null | undefined;
      return li?.dataset.status === "started" ? li.textContent : undefined;
    }, undefined, { polling: "raf", timeout: DEADLINE_MS });
    expect(await running.jsonValue()).toBe("⟳ Checking the current time...");
    await notice.locator("xpath=self::*[@data-status='completed']").waitFor({ timeout: DEADLINE_MS });
    expect(await notice.textContent()).toBe("✓ Checking the current time...");

    await message.locator("xpath=self::*[@data-status='done' or @data-status='failed']").waitFor({ timeout: DEADLINE_MS });
    expect(await message.getAttribute("data-status")).toBe("done");
    await page.screenshot({ path: path.join(ARTIFACTS, "web-console-tool.png"), fullPage: true });
    expect(await body.textContent()).toBe(whole);
    const source = (await message.getByTestId("answer-source").textContent()) ?? "";
    expect(source.startsWith(`${toolLeadIn("current_time")}\n\nThe current_time tool answered: {"utc":"`)).toBe(true);
    expect(source.endsWith(answerFor(prompt, stack!.ready.clientConfig.models.defaultModelId).join(""))).toBe(true);
    // One line per call, inline where the call happened: after the text streamed before it, before the text using its result.
    expect(await message.getByTestId("tool-notice").count()).toBe(1);
    const flow = await message.getByTestId("answer").evaluate((answer) => Array.from(answer.children).map((c) => (c as HTMLElement).innerText.split("\n")[0]));
    expect(flow.slice(0, 3)).toEqual([toolLeadIn("current_time"), "✓ Checking the current time...", expect.stringMatching(/^The current_time tool answered: /)]);
    expect(pageErrors).toEqual([]);
  }, 90_000);
});
