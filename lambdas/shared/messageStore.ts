/**
 * The durable record of each message (key schema in contracts/tables.ts): a state item and one item per streamed event
 * (token and reasoning chunks, tool notices), keyed by its eventSequence (contracts/streamEvents.ts).
 * sendQuery creates it (QUEUED), the worker starts, fills and ends it, stopGeneration flags it and `Query.message`
 * reads it. Each event item is written once, so the cost is linear in the answer; everything expires with the history TTL.
 */
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { GUARDRAIL_INTERVENED_REASON, type MessageState, type MessageStatus } from "../../contracts/messageState";
import { MESSAGE_STATE_SORT_KEY, MESSAGES_TABLE, messageEventSortKey, messagePartitionKey } from "../../contracts/tables";
import { EVENT_ACTIONS } from "../../contracts/streamEvents";
import { allPages } from "./allPages";

/** Which message: always the caller's own user id (from the verified identity), never a client-given one. */
export interface MessageRef {
  userId: string;
  sessionId: string;
  messageId: string;
}

export interface MessageStoreOptions {
  doc: DynamoDBDocumentClient;
  tableName: string;
  /** Days until the records expire (the history TTL); 0 = no expiry attribute. */
  ttlDays: number;
  /** Clock (ms), for tests. */
  now?: () => number;
}

/** What the worker may do with a message it received: generate it, end it at once as stopped, or leave it (already ended). */
export type MessageStart = "generate" | "stopped" | "ended";

/** The state item as stored. */
interface StateItem {
  status: MessageStatus;
  runId?: string;
  stopRequested?: boolean;
  /** The final_response or error event JSON, once ended. */
  endEvent?: string;
}

interface EventItem {
  sk: string;
  runId?: string;
  event: string;
}

const { partitionKey: PK, sortKey: SK, ttlAttribute: TTL } = MESSAGES_TABLE;
const ACTIVE = { ":queued": "QUEUED", ":streaming": "STREAMING" } as const;

const isConditionFailure = (e: unknown) => (e as { name?: string })?.name === "ConditionalCheckFailedException";

export class MessageStore {
  private readonly now: () => number;

  constructor(private readonly options: MessageStoreOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Creates the QUEUED record; false when this user already used the message id in this session. */
  async create(ref: MessageRef): Promise<boolean> {
    const at = this.iso();
    try {
      await this.options.doc.send(
        new PutCommand({
          TableName: this.options.tableName,
          Item: { ...this.stateKey(ref), ...ref, status: "QUEUED", createdAt: at, updatedAt: at, ...this.expiry() },
          ConditionExpression: "attribute_not_exists(#pk)",
          ExpressionAttributeNames: { "#pk": PK },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  /** Removes a QUEUED record whose work request could not be published, so the id can be sent again. */
  async discard(ref: MessageRef): Promise<void> {
    await this.options.doc
      .send(new DeleteCommand({ TableName: this.options.tableName, Key: this.stateKey(ref), ConditionExpression: "#status = :queued", ExpressionAttributeNames: { "#status": "status" }, ExpressionAttributeValues: { ":queued": "QUEUED" } }))
      .catch((e) => {
        if (!isConditionFailure(e)) throw e;
      });
  }

  /**
   * Marks the message STREAMING for `runId` (a rerun after a timed-out attempt takes it over). A record made before
   * this table existed is created here. Stopped while queued: "stopped"; already ended: "ended".
   */
  async start(ref: MessageRef, runId: string): Promise<MessageStart> {
    const at = this.iso();
    try {
      const out = await this.options.doc.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: this.stateKey(ref),
          UpdateExpression:
            "SET #status = :streaming, runId = :run, startedAt = :at, updatedAt = :at, userId = :user, sessionId = :session, messageId = :message, createdAt = if_not_exists(createdAt, :at)" +
            (this.options.ttlDays > 0 ? `, #ttl = if_not_exists(#ttl, :ttl)` : ""),
          ConditionExpression: "attribute_not_exists(#pk) OR #status IN (:queued, :streaming)",
          ExpressionAttributeNames: { "#pk": PK, "#status": "status", ...(this.options.ttlDays > 0 ? { "#ttl": TTL } : {}) },
          ExpressionAttributeValues: { ...ACTIVE, ":run": runId, ":at": at, ":user": ref.userId, ":session": ref.sessionId, ":message": ref.messageId, ...this.ttlValue() },
          ReturnValues: "ALL_NEW",
        }),
      );
      return (out.Attributes as StateItem | undefined)?.stopRequested ? "stopped" : "generate";
    } catch (e) {
      if (isConditionFailure(e)) return "ended";
      throw e;
    }
  }

  /** Whether stopGeneration flagged the message (a strongly consistent read of one small item: 1 read unit). */
  async stopRequested(ref: MessageRef, signal?: AbortSignal): Promise<boolean> {
    const out = await this.options.doc.send(
      new GetCommand({ TableName: this.options.tableName, Key: this.stateKey(ref), ConsistentRead: true, ProjectionExpression: "stopRequested" }),
      signal ? { abortSignal: signal } : {},
    );
    return (out.Item as StateItem | undefined)?.stopRequested === true;
  }

  /** Flags a QUEUED or STREAMING message for the worker to stop; false when it has ended or does not exist. */
  async requestStop(ref: MessageRef): Promise<boolean> {
    try {
      await this.options.doc.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: this.stateKey(ref),
          UpdateExpression: "SET stopRequested = :yes, updatedAt = :at",
          ConditionExpression: "attribute_exists(#pk) AND #status IN (:queued, :streaming) AND attribute_not_exists(stopRequested)",
          ExpressionAttributeNames: { "#pk": PK, "#status": "status" },
          ExpressionAttributeValues: { ...ACTIVE, ":yes": true, ":at": this.iso() },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  /** Stores one streamed event (the JSON the subscription carries) at its eventSequence, once. */
  async appendEvent(ref: MessageRef, runId: string, eventSequence: number, eventJson: string, signal?: AbortSignal): Promise<void> {
    await this.options.doc.send(
      new PutCommand({ TableName: this.options.tableName, Item: { [PK]: this.pk(ref), [SK]: messageEventSortKey(eventSequence), runId, event: eventJson, ...this.expiry() } }),
      signal ? { abortSignal: signal } : {},
    );
  }

  /** Ends the run's message: its status and its final_response or error event. A superseded run changes nothing. */
  async end(ref: MessageRef, runId: string, status: MessageStatus, endEventJson: string): Promise<void> {
    await this.options.doc
      .send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: this.stateKey(ref),
          UpdateExpression: "SET #status = :status, endEvent = :event, endedAt = :at, updatedAt = :at",
          ConditionExpression: "runId = :run",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: { ":status": status, ":event": endEventJson, ":at": this.iso(), ":run": runId },
        }),
      )
      .catch((e) => {
        if (!isConditionFailure(e)) throw e;
      });
  }

  /**
   * Ends a message whose run could not begin: FAILED with `endEventJson` when the record is this run's or still QUEUED
   * (never started; it becomes this run's). False when another run owns it or it has ended: that run or ending stands.
   */
  async abandon(ref: MessageRef, runId: string, endEventJson: string): Promise<boolean> {
    const at = this.iso();
    try {
      await this.options.doc.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: this.stateKey(ref),
          UpdateExpression: "SET #status = :failed, runId = :run, endEvent = :event, endedAt = :at, updatedAt = :at",
          ConditionExpression: "runId = :run OR #status = :queued",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: { ":failed": "FAILED", ":queued": "QUEUED", ":run": runId, ":event": endEventJson, ":at": at },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  /**
   * The record as `Query.message` returns it: status, the run's events after `afterSequence` (an eventSequence; every
   * kind, in order), the ending; null when absent. A message a guardrail ended replays only its final: in async mode the streamed chunks may hold the very
   * text the guardrail blocked, and the final carries the safe text.
   */
  async read(ref: MessageRef, afterSequence = -1): Promise<MessageState | null> {
    const items = await this.queryFrom(ref, messageEventSortKey(afterSequence));
    const state = items.at(-1) as (StateItem & EventItem) | undefined;
    if (!state || state.sk !== MESSAGE_STATE_SORT_KEY) return null;
    // Only the current run's events: a rerun numbers from 0 again and may have sent fewer chunks than an earlier run.
    const events = intervened(state.endEvent) ? [] : (items.slice(0, -1) as unknown as EventItem[]).filter((i) => i.runId === state.runId).map((i) => i.event);
    if (state.endEvent) events.push(state.endEvent);
    return { sessionId: ref.sessionId, messageId: ref.messageId, status: state.status, events };
  }

  /** Every item of the message with a sort key after `from`, across pages (events, then the state item). */
  private queryFrom(ref: MessageRef, from: string): Promise<Record<string, unknown>[]> {
    return allPages((startKey) =>
      this.options.doc.send(
        new QueryCommand({
          TableName: this.options.tableName,
          KeyConditionExpression: "#pk = :pk AND #sk > :from",
          ExpressionAttributeNames: { "#pk": PK, "#sk": SK },
          ExpressionAttributeValues: { ":pk": this.pk(ref), ":from": from },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      ),
    );
  }

  private pk(ref: MessageRef): string {
    return messagePartitionKey(ref.userId, ref.sessionId, ref.messageId);
  }

  private stateKey(ref: MessageRef): Record<string, string> {
    return { [PK]: this.pk(ref), [SK]: MESSAGE_STATE_SORT_KEY };
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }

  private ttlValue(): Record<string, number> {
    return this.options.ttlDays > 0 ? { ":ttl": Math.floor(this.now() / 1000) + this.options.ttlDays * 86400 } : {};
  }

  private expiry(): Record<string, number> {
    return this.options.ttlDays > 0 ? { [TTL]: Math.floor(this.now() / 1000) + this.options.ttlDays * 86400 } : {};
  }
}

/** True when the ending (our own worker's event JSON) is a final_response a guardrail ended. */
function intervened(endEvent: string | undefined): boolean {
  if (endEvent === undefined) return false;
  const event = JSON.parse(endEvent) as { action?: unknown; data?: { stopReason?: unknown } };
  return event.action === EVENT_ACTIONS.final && event.data?.stopReason === GUARDRAIL_INTERVENED_REASON;
}
