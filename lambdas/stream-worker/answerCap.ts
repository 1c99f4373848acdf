/**
 * An answer's cap in UTF-8 bytes (the Function URL's `function_url.max_answer_bytes`): `take` passes a text delta while
 * the answer stays within the cap, cuts the delta that would pass it at a code point, and then fires `signal`, which
 * aborts the model call. The AppSync paths have none.
 */
import { byteLength } from "../../contracts/utf8";

export class AnswerCap {
  private readonly controller = new AbortController();
  private used = 0;

  constructor(readonly maxBytes: number) {}

  /** Fires once the answer reached the cap: the model call's abort. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** True once a delta did not fit whole. */
  get reached(): boolean {
    return this.controller.signal.aborted;
  }

  /** The part of `text` that still fits (all of it, while the answer stays within the cap). */
  take(text: string): string {
    if (this.reached) return "";
    const bytes = byteLength(text);
    if (this.used + bytes <= this.maxBytes) {
      this.used += bytes;
      return text;
    }
    let kept = "";
    for (const ch of text) {
      const n = byteLength(ch);
      if (this.used + n > this.maxBytes) break;
      kept += ch;
      this.used += n;
    }
    this.controller.abort(new AnswerCapReached(this.maxBytes));
    return kept;
  }
}

/** The abort reason when an answer reached its cap. */
export class AnswerCapReached extends Error {
  override readonly name = "AnswerCapReached";
  constructor(maxBytes: number) {
    super(`the answer reached its cap of ${maxBytes} bytes`);
  }
}
