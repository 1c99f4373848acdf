/**
 * The values environments/example.tfvars leaves for its reader to fill in are written `<what-goes-here>`, for example
 * `account_id = "<account-id>"` or `bucket = "llm-stream-tfstate-<account-id>"`. A copy fails validation, naming each
 * key and what to put there, until every one is replaced; the shipped environments carry their own (demo) values and
 * no placeholder, so they keep validating.
 */

/** `<lower-case-words-with-dashes>` anywhere in a string value; the token is the first group. */
export const PLACEHOLDER = /<([a-z0-9]+(?:-[a-z0-9]+)*)>/g;

/** What replaces each placeholder of the example, phrased to follow "replace it with". */
export const PLACEHOLDERS: Readonly<Record<string, string>> = {
  env: "the environment's name, which is also the file's base name (2-20 of a-z, 0-9, -)",
  "account-id": "the 12-digit id of the AWS account this environment deploys into",
  region: "the AWS region to deploy into, such as eu-west-1",
  "user-pool-id": "the id of your existing Cognito user pool, such as eu-west-1_AbC123 (or comment the cognito block out to create a pool)",
  "alerts-email": "the address that receives the alarms (or use sns_topic_arn, or comment the alarms block out for no alarms)",
  "alerts-topic": "the name of your existing SNS topic for alarms",
  "guardrail-id": "the id of your Bedrock guardrail in this account and region, such as abcdef123456 (or comment the guardrail block out for none)",
  "web-acl-name": "the name of your web ACL (or remove web_acl_arn to create one with rate_limit_per_5_minutes)",
  "web-acl-id": "the id of your web ACL, the last part of its ARN",
};

/**
 * Free text, where `<tag>` can be meant literally (system prompts often use XML-style tags). Every other string is a
 * name, id, ARN, address or tag, none of which may contain `<`.
 */
const FREE_TEXT_KEYS = new Set(["generation.system_prompt"]);

export interface PlaceholderValue {
  /** Where the value is, as zod names paths. */
  readonly path: (string | number)[];
  /** The placeholders in it, in order, without brackets. */
  readonly tokens: string[];
}

/** Every string value of parsed tfvars that still holds a placeholder. */
export function findPlaceholders(value: unknown, path: (string | number)[] = []): PlaceholderValue[] {
  if (typeof value === "string") {
    const tokens = [...value.matchAll(PLACEHOLDER)].map((m) => m[1]);
    return tokens.length && !FREE_TEXT_KEYS.has(path.join(".")) ? [{ path, tokens }] : [];
  }
  if (Array.isArray(value)) return value.flatMap((v, i) => findPlaceholders(v, [...path, i]));
  if (value !== null && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => findPlaceholders(v, [...path, k]));
  return [];
}

const whatGoesThere = (token: string) => PLACEHOLDERS[token] ?? "your value";

/** The problem, phrased to follow the key: `still holds the example placeholder <account-id>: replace it with ...`. */
export function placeholderProblem(tokens: string[]): string {
  const unique = [...new Set(tokens)];
  if (unique.length === 1) return `still holds the example placeholder <${unique[0]}>: replace it with ${whatGoesThere(unique[0])}`;
  const each = unique.map((t) => `<${t}> with ${whatGoesThere(t)}`).join("; ");
  return `still holds the example placeholders ${unique.map((t) => `<${t}>`).join(", ")}: replace ${each}`;
}
