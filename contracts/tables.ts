/** Key schemas of the DynamoDB tables: the stacks create them, the local stack creates them in dynalite, the worker reads and writes them. */

/** Chat history: one item per turn. pk = `USER#<userId>#SESSION#<sessionId>`, sk = `<ISO time>#<messageId>#<role>`. */
export const HISTORY_TABLE = { partitionKey: "pk", sortKey: "sk", ttlAttribute: "expiresAt" } as const;
export const historyPartitionKey = (userId: string, sessionId: string) => `USER#${userId}#SESSION#${sessionId}`;
export const historySortKey = (isoTime: string, messageId: string, role: "user" | "assistant") => `${isoTime}#${messageId}#${role}`;

/** Powertools idempotency records (its default attribute names), keyed on the work request's messageId. */
export const IDEMPOTENCY_TABLE = { partitionKey: "id", ttlAttribute: "expiration" } as const;
