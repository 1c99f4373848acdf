/**
 * Waits on a condition instead of sleeping: polls until `check` returns something other than undefined/false (that
 * value is returned) or the deadline passes (then fails, with the last value or error seen, to say what was missing).
 */
export interface WaitForOptions {
  /** Give up after this long (default 10 000 ms). */
  timeoutMs?: number;
  /** Pause between checks (default 50 ms). */
  intervalMs?: number;
  /** Names what was awaited in the failure message. */
  description?: string;
}

export async function waitFor<T>(check: () => T | undefined | false | Promise<T | undefined | false>, opts: WaitForOptions = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
      lastError = undefined;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? `: ${lastError.message}` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.description ?? "a condition"}${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
