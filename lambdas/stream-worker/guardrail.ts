/**
 * The guardrail's safe text when it ended a message (stopReason guardrail_intervened). What the stream carried up to
 * then depends on the mode: in sync mode only screened chunks and the guardrail's own message; in async mode the
 * chunks went out before the guardrail had screened them, so they may hold the very text it blocked. So the streamed
 * text is put to the guardrail itself (ApplyGuardrail, source OUTPUT: the permission ConverseStream needs anyway):
 * the text it passes stands (e.g. a blocked prompt's message), otherwise what the guardrail puts in its place (its
 * blocked message, or the text masked). If that call fails, a fixed message stands in, never the streamed text.
 */
import { ApplyGuardrailCommand, type BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
import type { RuntimeSettings } from "../../contracts/runtimeSettings";
import type { RuntimeLogger } from "../shared/telemetry";

export type GuardrailSettings = Pick<RuntimeSettings, "guardrailId" | "guardrailVersion">;

/** The final content when the guardrail's own answer cannot be had. */
export const GUARDRAIL_FALLBACK_TEXT = "This answer was stopped by the content policy.";

/** The safe text to end an intervened message with (see the module's header). */
export async function guardrailSafeText(bedrock: BedrockRuntimeClient, settings: GuardrailSettings, streamed: string, logger: RuntimeLogger): Promise<string> {
  if (!settings.guardrailId) return GUARDRAIL_FALLBACK_TEXT;
  try {
    const out = await bedrock.send(
      new ApplyGuardrailCommand({ guardrailIdentifier: settings.guardrailId, guardrailVersion: settings.guardrailVersion, source: "OUTPUT", content: [{ text: { text: streamed || " " } }] }),
    );
    if (out.action !== "GUARDRAIL_INTERVENED") return streamed || GUARDRAIL_FALLBACK_TEXT;
    const replaced = (out.outputs ?? []).map((o) => o.text ?? "").join("");
    return replaced || GUARDRAIL_FALLBACK_TEXT;
  } catch (error) {
    logger.warn("ApplyGuardrail failed; the intervened message ends with the fallback text", { error });
    return GUARDRAIL_FALLBACK_TEXT;
  }
}
