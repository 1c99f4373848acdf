/**
 * Screenshots the console against the preview stack (no SNS/SQS needed): `npx tsx test/web/support/preview.ts`.
 * Writes test-artifacts/preview-*.png.
 */
import { mkdir, mkdtemp } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { buildWebConsole } from "../../../web/build";
import { launchChromium } from "./browser";
import { startPreviewStack } from "./previewStack";

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "web-preview-"));
  await buildWebConsole(dir, { minify: false });
  const stack = await startPreviewStack(dir);
  const browser = await launchChromium();
  const artifacts = path.resolve("test-artifacts");
  await mkdir(artifacts, { recursive: true });
  try {
    const page = await browser.context.newPage();
    page.on("console", (m) => console.log(`[page] ${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => console.log(`[page error] ${e.message}`));
    await page.goto(stack.url);
    await page.getByTestId("signin").waitFor();
    await page.screenshot({ path: path.join(artifacts, "preview-signin.png") });
    await page.getByTestId("signin").click();
    await page.getByTestId("prompt").fill(process.argv[2] ?? "How does streaming work?");
    await page.getByTestId("send").click();
    await page.locator('[data-testid=assistant-message][data-status=done], [data-testid=assistant-message][data-status=failed]').waitFor({ timeout: 20000 });
    await page.getByTestId("compare-run").click();
    await page.locator("#compare-form[data-state=done]").waitFor({ timeout: 30000 });
    await page.screenshot({ path: path.join(artifacts, "preview-console.png"), fullPage: true });
    console.log("screenshots in", artifacts);
  } finally {
    await browser.close();
    await stack.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
