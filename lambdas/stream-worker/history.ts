/**
 * Chat history in DynamoDB (key schema in contracts/tables.ts): one item per turn. The worker loads a session's earlier
 * turns as Bedrock conversation messages and writes the user turn and the assistant turn of each message, with a TTL.
 * A turn that called tools, or reasoned with a signature, also keeps its Bedrock messages after the prompt (each
 * round's reasoning with its signature, text and toolUse blocks, and the toolResults): while tools are offered, the
 * next turn gets them back whole; otherwise, and for every other turn, the answer's text.
 */
import type { Message } from "@aws-sdk/client-bedrock-runtime";
import { PutCommand, QueryCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { GUARDRAIL_INTERVENED_REASON } from "../../contracts/messageState";
import type { Usage } from "../../contracts/streamEvents";
import type { WorkRequest } from "../../contracts/workRequest";
import { HISTORY_TABLE, historyPartitionKey, historySortKey } from "../../contracts/tables";

export interface AssistantTurn {
  content: string;
  reasoningContent?: string;
  usage: Usage;
  stopReason: string;
  /** Set when the generation failed; such turns are not replayed to the model (nor guardrail_intervened ones). */
  errorCode?: string;
  completedAt: string;
  /** The turn's Bedrock messages after the prompt (toolLoop.ts): kept when they hold tool calls or signed reasoning. */
  messages?: Message[];
}

/** Options of loadConversation. */
export interface LoadOptions {
  /** Tools are offered this turn: earlier turns' tool calls and results may go back to the model (Bedrock refuses them without a toolConfig). */
  withTools?: boolean;
}

/** A turn's messages are kept up to this size (JSON characters), well inside DynamoDB's 400 KB item; a larger turn keeps its text. */
export const MAX_TURN_MESSAGES_CHARS = 200_000;

export interface HistoryStoreOptions {
  doc: DynamoDBDocumentClient;
  tableName: string;
  /** 0 = no expiry attribute. */
  ttlDays: number;
  /** Earlier exchanges sent to the model at most (default 20), newest kept. */
  maxExchanges?: number;
}

interface TurnItem {
  pk: string;
  sk: string;
  role: "user" | "assistant";
  messageId: string;
  content: string;
  errorCode?: string;
  stopReason?: string;
  messages?: Message[];
}

export class HistoryStore {
  private readonly maxExchanges: number;
  constructor(private readonly options: HistoryStoreOptions) {
    this.maxExchanges = options.maxExchanges ?? 20;
  }

  /** Earlier complete exchanges of the session, oldest first, as alternating user/assistant messages; `messageId` itself is left out. */
  async loadConversation(userId: string, sessionId: string, messageId: string, options: LoadOptions = {}): Promise<Message[]> {
    const { doc, tableName } = this.options;
    const out = await doc.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: "#pk = :pk",
        ExpressionAttributeNames: { "#pk": HISTORY_TABLE.partitionKey },
        ExpressionAttributeValues: { ":pk": historyPartitionKey(userId, sessionId) },
        ScanIndexForward: false,
        Limit: this.maxExchanges * 2 + 2,
      }),
    );
    const items = ((out.Items ?? []) as TurnItem[]).reverse();
    const exchanges = new Map<string, { user?: string; assistant?: TurnItem }>();
    for (const item of items) {
      if (item.messageId === messageId) continue;
      const exchange = exchanges.get(item.messageId) ?? {};
      if (item.role === "user") exchange.user = item.content;
      // A failed turn, and one a guardrail ended (its prompt would only be blocked again), are not replayed.
      else if (!item.errorCode && item.content && item.stopReason !== GUARDRAIL_INTERVENED_REASON) exchange.assistant = item;
      exchanges.set(item.messageId, exchange);
    }
    const messages: Message[] = [];
    for (const { user, assistant } of [...exchanges.values()].slice(-this.maxExchanges)) {
      // Bedrock needs strict user/assistant alternation: only complete exchanges go in.
      if (user && assistant) messages.push({ role: "user", content: [{ text: user }] }, ...assistantTurn(assistant, options.withTools === true));
    }
    return messages;
  }

  async saveExchange(request: WorkRequest, turn: AssistantTurn): Promise<void> {
    const { doc, tableName, ttlDays } = this.options;
    const pk = historyPartitionKey(request.userId, request.sessionId);
    const expiry = ttlDays > 0 ? { [HISTORY_TABLE.ttlAttribute]: Math.floor(Date.parse(turn.completedAt) / 1000) + ttlDays * 86400 } : {};
    const common = { [HISTORY_TABLE.partitionKey]: pk, sessionId: request.sessionId, messageId: request.messageId, userId: request.userId, ...expiry };
    await Promise.all([
      doc.send(
        new PutCommand({
          TableName: tableName,
          Item: { ...common, [HISTORY_TABLE.sortKey]: historySortKey(request.requestedAt, request.messageId, "user"), role: "user", content: request.prompt, modelId: request.modelId, createdAt: request.requestedAt },
        }),
      ),
      doc.send(
        new PutCommand({
          TableName: tableName,
          Item: {
            ...common,
            [HISTORY_TABLE.sortKey]: historySortKey(turn.completedAt, request.messageId, "assistant"),
            role: "assistant",
            content: turn.content,
            ...(turn.reasoningContent ? { reasoningContent: turn.reasoningContent } : {}),
            ...(keptMessages(turn.messages) ? { messages: turn.messages } : {}),
            usage: turn.usage,
            stopReason: turn.stopReason,
            ...(turn.errorCode ? { errorCode: turn.errorCode } : {}),
            modelId: request.modelId,
            createdAt: turn.completedAt,
          },
        }),
      ),
    ]);
  }
}

/** The assistant side of an exchange: its tool rounds whole when tools are offered and it has them, else its text. */
function assistantTurn(item: TurnItem, withTools: boolean): Message[] {
  const calledTools = item.messages?.some((m) => m.content?.some((b) => b.toolUse !== undefined || b.toolResult !== undefined));
  return withTools && calledTools && keptMessages(item.messages) ? item.messages! : [{ role: "assistant", content: [{ text: item.content }] }];
}

/**
 * Whether a turn's messages are worth keeping and fit to send back: tool calls or signed reasoning in them, strict
 * alternation from the assistant to the assistant (a turn that ended between a call and its answer does not), every
 * message with content, and within the size bound.
 */
function keptMessages(messages: Message[] | undefined): messages is Message[] {
  if (!messages?.length || messages.length % 2 === 0) return false;
  const alternates = messages.every((m, i) => m.role === (i % 2 === 0 ? "assistant" : "user") && (m.content?.length ?? 0) > 0);
  const worth = messages.some((m) => m.content?.some((b) => b.toolUse !== undefined || b.reasoningContent !== undefined));
  return alternates && worth && JSON.stringify(messages).length <= MAX_TURN_MESSAGES_CHARS;
}
