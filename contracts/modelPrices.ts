/**
 * Bedrock on-demand prices per model, for the cost estimate of each finished message (usage rows, `myUsage`,
 * `npm run usage`). An estimate: list prices in USD, no free tier, no prompt caching or batch discounts, no tax.
 * Check https://aws.amazon.com/bedrock/pricing/ before quoting a bill, and update this table (and PRICES_READ) when
 * AWS changes a price or an environment allows a model not listed here (its messages are then costed at 0 and
 * `npm run usage` marks them "no price").
 */

/** When and from where the figures below were read. */
export const PRICES_READ = {
  date: "2026-12-01",
  region: "us-east-1",
  currency: "USD",
  sources: [
    "https://aws.amazon.com/bedrock/pricing/ (cross-region inference: no additional charge, priced as the source region)",
    "https://deploybase.ai/articles/amazon-bedrock-pricing (2026-01-05, quoting the AWS page: Claude 3.7 Sonnet $3.00/$15.00, Claude 3.5 Haiku $0.80/$4.00)",
    "https://inventivehq.com/blog/aws-bedrock-pricing-guide (Claude 3 Haiku $0.25/$1.25, Claude 3.5 Sonnet $3.00/$15.00)",
    "https://clauder-navi.com/en/bedrock-claude-cost/ (Claude 4.5 generation: global endpoint $3.00/$15.00 for Sonnet, regional and geography endpoints 10% higher)",
  ],
} as const;

/** USD per million tokens. */
export interface ModelPrice {
  inputPerMillion: number;
  outputPerMillion: number;
}

/**
 * Keyed by foundation model id; a geography inference profile (`us.`, `eu.`, ...) costs what its model costs in the
 * source region, so it is looked up without its prefix. Where a `global.` profile is priced apart, it has its own entry.
 */
export const MODEL_PRICES: Readonly<Record<string, ModelPrice>> = {
  "anthropic.claude-3-haiku-20240307-v1:0": { inputPerMillion: 0.25, outputPerMillion: 1.25 },
  "anthropic.claude-3-5-haiku-20241022-v1:0": { inputPerMillion: 0.8, outputPerMillion: 4.0 },
  "anthropic.claude-3-5-sonnet-20240620-v1:0": { inputPerMillion: 3.0, outputPerMillion: 15.0 },
  "anthropic.claude-3-5-sonnet-20241022-v2:0": { inputPerMillion: 3.0, outputPerMillion: 15.0 },
  "anthropic.claude-3-7-sonnet-20250219-v1:0": { inputPerMillion: 3.0, outputPerMillion: 15.0 },
  "anthropic.claude-sonnet-4-5-20250929-v1:0": { inputPerMillion: 3.3, outputPerMillion: 16.5 },
  "global.anthropic.claude-sonnet-4-5-20250929-v1:0": { inputPerMillion: 3.0, outputPerMillion: 15.0 },
};

/**
 * The price of a model id or inference profile; undefined when the table has none. A profile id is its model's id
 * behind one more dot-separated part (its geography, config/rules.ts), so it falls back to the id after the first dot.
 */
export function priceOf(modelId: string): ModelPrice | undefined {
  return MODEL_PRICES[modelId] ?? MODEL_PRICES[modelId.slice(modelId.indexOf(".") + 1)];
}

/**
 * The cost of one message in nano-USD (1e-9 USD), a whole number, so the usage rows add it exactly with DynamoDB ADD
 * (a price with up to three decimals per million tokens is a whole number of nano-USD per token).
 */
export function costNanoUsd(modelId: string, usage: { inputTokens: number; outputTokens: number }): number {
  const price = priceOf(modelId);
  if (!price) return 0;
  return Math.round(usage.inputTokens * price.inputPerMillion * 1000 + usage.outputTokens * price.outputPerMillion * 1000);
}

export const NANO_USD_PER_USD = 1e9;
