/** Key schemas of the DynamoDB tables: the stacks create them, the local stack creates them in dynalite, the worker reads and writes them. */

/** Chat history: one item per turn. pk = `USER#<userId>#SESSION#<sessionId>`, sk = `<ISO time>#<messageId>#<role>`. */
export const HISTORY_TABLE = { partitionKey: "pk", sortKey: "sk", ttlAttribute: "expiresAt" } as const;

/** Powertools idempotency records (its default attribute names), keyed on the work request's messageId. */
export const IDEMPOTENCY_TABLE = { partitionKey: "id", ttlAttribute: "expiration" } as const;
