/**
 * The stand-in's guardrail: the texts a converse-stream request with a guardrailConfig and script.ts's
 * GUARDRAIL_MARKER streams, and what `POST /guardrail/{id}/version/{version}/apply` (ApplyGuardrail) answers. Any
 * guardrail id and version is accepted. Pure: no HTTP here.
 */

/** What the stand-in's guardrail says instead of a blocked answer (a guardrail's "blocked messaging"). */
export const STAND_IN_BLOCKED_MESSAGE = "Sorry, the guardrail blocked this answer.";

/** The text an async-mode intervention streams before the guardrail catches up with it; ApplyGuardrail blocks it. */
export const STAND_IN_UNSAFE_TEXT = " [text the guardrail blocks] ";

/** A request's guardrailConfig, as the stand-in reads it. */
export interface StandInGuardrail {
  id: string;
  version: string;
  mode: "sync" | "async";
}

/** ConverseStream's guardrailConfig in a request body. */
export interface GuardrailConfigBody {
  guardrailIdentifier?: string;
  guardrailVersion?: string;
  streamProcessingMode?: string;
}

export function readGuardrailConfig(config: GuardrailConfigBody | undefined): StandInGuardrail | undefined {
  if (!config?.guardrailIdentifier) return undefined;
  return { id: config.guardrailIdentifier, version: config.guardrailVersion ?? "DRAFT", mode: config.streamProcessingMode === "async" ? "async" : "sync" };
}

/** One ApplyGuardrail call, in the emission log. */
export interface GuardrailCheck {
  guardrailId: string;
  version: string;
  source: string;
  text: string;
  action: "GUARDRAIL_INTERVENED" | "NONE";
}

/** ApplyGuardrail's body: the source (INPUT or OUTPUT) and the text blocks to screen. */
export interface ApplyGuardrailBody {
  source?: string;
  content?: { text?: { text?: string } }[];
}

/** The stand-in's verdict: it intervenes on STAND_IN_UNSAFE_TEXT, with its blocked message as the output. */
export function applyStandInGuardrail(guardrailId: string, version: string, body: ApplyGuardrailBody): { check: GuardrailCheck; response: unknown } {
  const text = (body.content ?? []).map((c) => c.text?.text ?? "").join("");
  const blocked = text.includes(STAND_IN_UNSAFE_TEXT.trim());
  const action = blocked ? "GUARDRAIL_INTERVENED" : "NONE";
  const units = Math.max(1, Math.ceil(text.length / 1000));
  return {
    check: { guardrailId, version, source: body.source ?? "", text, action },
    response: {
      usage: { topicPolicyUnits: 0, contentPolicyUnits: units, wordPolicyUnits: 0, sensitiveInformationPolicyUnits: 0, sensitiveInformationPolicyFreeUnits: 0, contextualGroundingPolicyUnits: 0 },
      action,
      outputs: blocked ? [{ text: STAND_IN_BLOCKED_MESSAGE }] : [],
      assessments: [],
    },
  };
}
