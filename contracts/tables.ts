/** Key schemas of the DynamoDB tables: the stacks create them, the local stack creates them in dynalite, the worker reads and writes them. */

/** Chat history: one item per turn. pk = `USER#<userId>#SESSION#<sessionId>`, sk = `<ISO time>#<messageId>#<role>`. */
export const HISTORY_TABLE = { partitionKey: "pk", sortKey: "sk", ttlAttribute: "expiresAt" } as const;
export const historyPartitionKey = (userId: string, sessionId: string) => `USER#${userId}#SESSION#${sessionId}`;
export const historySortKey = (isoTime: string, messageId: string, role: "user" | "assistant") => `${isoTime}#${messageId}#${role}`;

/** Powertools idempotency records (its default attribute names), keyed on the work request's messageId. */
export const IDEMPOTENCY_TABLE = { partitionKey: "id", ttlAttribute: "expiration" } as const;

/**
 * Message records (replay and stop): per message of a user's session one state item (sk = MESSAGE_STATE_SORT_KEY) and
 * one item per streamed event of every kind (sk = messageEventSortKey(eventSequence), contracts/streamEvents.ts; a
 * record of an envelope version 2 producer: the token sequenceNumber, the same numbers for a text-only answer). The state item sorts after every event, so one
 * Query with `sk > messageEventSortKey(afterSequence)` reads the events after a point and then the state.
 * pk = `USER#<userId>#SESSION#<sessionId>#MESSAGE#<messageId>`: the caller's own id is in the key, so another user's
 * message cannot be read or stopped, only not found.
 */
export const MESSAGES_TABLE = { partitionKey: "pk", sortKey: "sk", ttlAttribute: "expiresAt" } as const;
export const messagePartitionKey = (userId: string, sessionId: string, messageId: string) => `USER#${userId}#SESSION#${sessionId}#MESSAGE#${messageId}`;
/** `E#` and the event's number zero-padded to 10 digits (so string order is sequence order); -1 gives `E#`, before every event. */
export const messageEventSortKey = (sequenceNumber: number) => (sequenceNumber < 0 ? "E#" : `E#${String(sequenceNumber).padStart(10, "0")}`);
/** "S" sorts after every "E#..." key. */
export const MESSAGE_STATE_SORT_KEY = "S";

/**
 * Per-user usage and limits, one partition per user (pk = `USER#<userId>`):
 * - a usage row per UTC day and model, sk = usageRowSortKey(day, modelId) (`DAY#<yyyy-mm-dd>#MODEL#<modelId>`), whose
 *   counters (messages, tokens, cost, guardrail interventions) only ever change by DynamoDB ADD;
 * - the user's generation slots, sk = USAGE_SLOTS_SORT_KEY (`DAY~SLOTS`): `~` sorts after `#`, so the slots item
 *   comes right after the rows of the latest day, and one Query from `DAY#<today>#` reads today's rows and the slots.
 * No TTL: a row is small and one per user, day and model; the table keeps the history `npm run usage` and myUsage read.
 */
export const USAGE_TABLE = { partitionKey: "pk", sortKey: "sk" } as const;
export const usagePartitionKey = (userId: string) => `USER#${userId}`;
/** Every row of `day` sorts from here (model ids contain no `~`, so `usageDayEnd` bounds them). */
export const usageDayStart = (day: string) => `DAY#${day}#`;
export const usageDayEnd = (day: string) => `DAY#${day}#~`;
export const usageRowSortKey = (day: string, modelId: string) => `${usageDayStart(day)}MODEL#${modelId}`;
export const USAGE_SLOTS_SORT_KEY = "DAY~SLOTS";

/**
 * WebSocket connections (the websocket transport): one item per open connection of a user, pk = the user's id (the
 * authorizer's verified sub), sk = API Gateway's connectionId, so the worker queries exactly one user's connections.
 * Items expire a little after API Gateway's 2-hour connection limit, in case $disconnect never ran.
 */
export const CONNECTIONS_TABLE = { partitionKey: "userId", sortKey: "connectionId", ttlAttribute: "expiresAt" } as const;
