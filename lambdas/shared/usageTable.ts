/**
 * The per-user usage table (key schema in contracts/tables.ts): a usage row per UTC day and model, and one slots item
 * holding the user's generations in flight. send-query reads today's rows and the slots in one Query and claims a slot
 * with one conditional update (lambdas/send-query/admission.ts); the worker refreshes its slot when it starts, adds the
 * message's usage and releases the slot when the message ends; message-control and `npm run usage` read the rows.
 *
 * Why slots are entries with an expiry in one item, written with conditions (optimistic locking), rather than a counter:
 * a counter that a crashed worker never decrements stays taken forever. Each entry instead carries the time it lapses
 * (refreshed to the Lambda timeout plus a margin when the worker starts), so a crash costs the user one slot for at
 * most that long, and needs no sweeper: the next admission that finds the user at the limit drops lapsed entries in the
 * same write that claims its own. Every write is conditioned on what it read (the number of entries, the value of each
 * entry it drops, the last request id), so two admissions racing for the last slot cannot both win; the loser reads
 * again. Usage counters only ever change by ADD, never read-modify-write, so concurrent completions add up exactly.
 */
import { QueryCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { NANO_USD_PER_USD } from "../../contracts/modelPrices";
import { USAGE_SLOTS_SORT_KEY, USAGE_TABLE, usageDayEnd, usageDayStart, usagePartitionKey, usageRowSortKey } from "../../contracts/tables";
import type { UsageRow } from "../../contracts/usage";
import { allPages } from "./allPages";

export interface UsageTableOptions {
  doc: DynamoDBDocumentClient;
  tableName: string;
}

/** What an admission reads: the user's output tokens of the day and the slots item (absent for a new user). */
export interface UserLimitsState {
  outputTokensToday: number;
  /** Slot key (`<sessionId>/<messageId>`) -> when it lapses (epoch ms); undefined when the user has no slots item yet. */
  slots?: Record<string, number>;
  /** The AppSync request id of the last sendQuery that claimed a slot. */
  lastRequestId?: string;
}

/** One conditional write that claims a slot, built from a UserLimitsState. */
export interface SlotClaim {
  slotKey: string;
  expiresAt: number;
  /** Recorded, and refused when it equals the last one: one generation per AppSync request. */
  requestId?: string;
  /** Lapsed entries to drop in the same write, each with the value it was read with. */
  drop: Record<string, number>;
  /** The lapsed value of an entry under `slotKey` itself, which the claim overwrites. */
  replaces?: number;
  /** The most entries the item may hold before this write (the limit plus the entries dropped). */
  maxEntriesBefore: number;
  /** The user has no slots item yet: create it. */
  create: boolean;
}

/** What one finished message adds to its row. */
export interface UsageIncrement {
  inputTokens: number;
  outputTokens: number;
  costNanoUsd: number;
  guardrailIntervened: boolean;
}

/** A message's slot in the user's slots item. */
export const slotKeyOf = (sessionId: string, messageId: string) => `${sessionId}/${messageId}`;

const { partitionKey: PK, sortKey: SK } = USAGE_TABLE;
const isConditionFailure = (e: unknown) => (e as { name?: string })?.name === "ConditionalCheckFailedException";

/** A stored row as the API returns it. */
function toRow(item: Record<string, unknown>): UsageRow {
  const n = (k: string) => Number(item[k] ?? 0);
  return {
    day: String(item.day),
    modelId: String(item.modelId),
    messages: n("messages"),
    inputTokens: n("inputTokens"),
    outputTokens: n("outputTokens"),
    guardrailInterventions: n("guardrailInterventions"),
    costUsd: n("costNanoUsd") / NANO_USD_PER_USD,
  };
}

export class UsageTable {
  constructor(private readonly options: UsageTableOptions) {}

  /** Today's rows and the slots item, in one strongly consistent Query (the slots item sorts right after the latest day). */
  async readToday(userId: string, day: string): Promise<UserLimitsState> {
    const items = await this.queryAll({
      KeyConditionExpression: "#pk = :pk AND #sk BETWEEN :from AND :slots",
      ExpressionAttributeValues: { ":pk": usagePartitionKey(userId), ":from": usageDayStart(day), ":slots": USAGE_SLOTS_SORT_KEY },
    });
    const state: UserLimitsState = { outputTokensToday: 0 };
    for (const item of items) {
      if (item[SK] === USAGE_SLOTS_SORT_KEY) {
        state.slots = (item.slots as Record<string, number> | undefined) ?? {};
        state.lastRequestId = item.lastRequestId as string | undefined;
      } else if (item.day === day) {
        state.outputTokensToday += Number(item.outputTokens ?? 0);
      }
    }
    return state;
  }

  /** Claims a slot if the item still is as read; false when another write got there first (read again). */
  async claimSlot(userId: string, claim: SlotClaim): Promise<boolean> {
    try {
      await this.options.doc.send(new UpdateCommand({ TableName: this.options.tableName, Key: this.slotsKey(userId), ...claimExpression(claim) }));
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  /** Extends a slot to `expiresAt` (the worker, when it starts), creating it again if it had lapsed and been dropped. */
  async refreshSlot(userId: string, slotKey: string, expiresAt: number): Promise<void> {
    const { doc, tableName } = this.options;
    const names = { "#slots": "slots", "#slot": slotKey };
    try {
      await doc.send(new UpdateCommand({ TableName: tableName, Key: this.slotsKey(userId), UpdateExpression: "SET #slots.#slot = :exp", ConditionExpression: "attribute_exists(#slots)", ExpressionAttributeNames: names, ExpressionAttributeValues: { ":exp": expiresAt } }));
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
      // No slots item (a record from before the table existed): create it; if one appeared meanwhile, set the entry.
      await doc
        .send(new UpdateCommand({ TableName: tableName, Key: this.slotsKey(userId), UpdateExpression: "SET #slots = :map", ConditionExpression: "attribute_not_exists(#slots)", ExpressionAttributeNames: { "#slots": "slots" }, ExpressionAttributeValues: { ":map": { [slotKey]: expiresAt } } }))
        .catch((again) => {
          if (!isConditionFailure(again)) throw again;
          return this.refreshSlot(userId, slotKey, expiresAt);
        });
    }
  }

  /** Releases a slot; with `ifExpiresAt`, only the entry this caller wrote (send-query undoing its own claim). */
  async releaseSlot(userId: string, slotKey: string, ifExpiresAt?: number): Promise<void> {
    const condition = ifExpiresAt === undefined ? "attribute_exists(#slots)" : "#slots.#slot = :exp";
    await this.options.doc
      .send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: this.slotsKey(userId),
          UpdateExpression: "REMOVE #slots.#slot",
          ConditionExpression: condition,
          ExpressionAttributeNames: { "#slots": "slots", "#slot": slotKey },
          ...(ifExpiresAt === undefined ? {} : { ExpressionAttributeValues: { ":exp": ifExpiresAt } }),
        }),
      )
      .catch((e) => {
        if (!isConditionFailure(e)) throw e;
      });
  }

  /** Adds one finished message to its day's row for the model: ADD only, so concurrent completions add up exactly. */
  async addUsage(userId: string, day: string, modelId: string, add: UsageIncrement, now: number): Promise<void> {
    await this.options.doc.send(
      new UpdateCommand({
        TableName: this.options.tableName,
        Key: { [PK]: usagePartitionKey(userId), [SK]: usageRowSortKey(day, modelId) },
        UpdateExpression: "ADD messages :one, inputTokens :in, outputTokens :out, costNanoUsd :cost, guardrailInterventions :guard SET userId = :user, #day = :day, modelId = :model, updatedAt = :at",
        ExpressionAttributeNames: { "#day": "day" },
        ExpressionAttributeValues: {
          ":one": 1,
          ":in": add.inputTokens,
          ":out": add.outputTokens,
          ":cost": add.costNanoUsd,
          ":guard": add.guardrailIntervened ? 1 : 0,
          ":user": userId,
          ":day": day,
          ":model": modelId,
          ":at": new Date(now).toISOString(),
        },
      }),
    );
  }

  /** One user's rows from `fromDay` to `toDay` (inclusive), by day then model. */
  async rows(userId: string, fromDay: string, toDay: string): Promise<UsageRow[]> {
    const items = await this.queryAll({
      KeyConditionExpression: "#pk = :pk AND #sk BETWEEN :from AND :to",
      ExpressionAttributeValues: { ":pk": usagePartitionKey(userId), ":from": usageDayStart(fromDay), ":to": usageDayEnd(toDay) },
    });
    return items.map(toRow);
  }

  /** Every user's rows in the range, for operators (`npm run usage` without --user): a Scan, never on a request path. */
  async allRows(fromDay: string, toDay: string): Promise<(UsageRow & { userId: string })[]> {
    const items = await allPages((startKey) =>
      this.options.doc.send(
        new ScanCommand({
          TableName: this.options.tableName,
          FilterExpression: "#sk BETWEEN :from AND :to",
          ExpressionAttributeNames: { "#sk": SK },
          ExpressionAttributeValues: { ":from": usageDayStart(fromDay), ":to": usageDayEnd(toDay) },
          ExclusiveStartKey: startKey,
        }),
      ),
    );
    return items.map((item) => ({ ...toRow(item), userId: String(item.userId) }));
  }

  private queryAll(q: { KeyConditionExpression: string; ExpressionAttributeValues: Record<string, unknown> }): Promise<Record<string, unknown>[]> {
    return allPages((startKey) =>
      this.options.doc.send(new QueryCommand({ TableName: this.options.tableName, ...q, ExpressionAttributeNames: { "#pk": PK, "#sk": SK }, ConsistentRead: true, ExclusiveStartKey: startKey })),
    );
  }

  private slotsKey(userId: string): Record<string, string> {
    return { [PK]: usagePartitionKey(userId), [SK]: USAGE_SLOTS_SORT_KEY };
  }
}

/**
 * The update and condition of a claim: creates the item, or sets the entry while the item holds fewer than
 * `maxEntriesBefore` entries, the entry is new (or still the lapsed value it replaces), every dropped entry still has
 * the value read, and the request differs from the last one.
 */
function claimExpression(claim: SlotClaim) {
  const names: Record<string, string> = { "#slots": "slots", "#slot": claim.slotKey };
  const values: Record<string, unknown> = {};
  const sets: string[] = [];
  const conditions: string[] = [];
  if (claim.requestId !== undefined) {
    sets.push("lastRequestId = :rid");
    conditions.push("(attribute_not_exists(lastRequestId) OR lastRequestId <> :rid)");
    values[":rid"] = claim.requestId;
  }
  if (claim.create) {
    values[":map"] = { [claim.slotKey]: claim.expiresAt };
    return { UpdateExpression: `SET ${["#slots = :map", ...sets].join(", ")}`, ConditionExpression: ["attribute_not_exists(#slots)", ...conditions].join(" AND "), ExpressionAttributeNames: { "#slots": "slots" }, ExpressionAttributeValues: values };
  }
  values[":exp"] = claim.expiresAt;
  values[":max"] = claim.maxEntriesBefore;
  conditions.push("size(#slots) < :max", claim.replaces === undefined ? "attribute_not_exists(#slots.#slot)" : "#slots.#slot = :old");
  if (claim.replaces !== undefined) values[":old"] = claim.replaces;
  const removes = Object.entries(claim.drop).map(([key, read], i) => {
    names[`#d${i}`] = key;
    values[`:d${i}`] = read;
    conditions.push(`#slots.#d${i} = :d${i}`);
    return `#slots.#d${i}`;
  });
  const update = `SET ${["#slots.#slot = :exp", ...sets].join(", ")}${removes.length ? ` REMOVE ${removes.join(", ")}` : ""}`;
  return { UpdateExpression: update, ConditionExpression: conditions.join(" AND "), ExpressionAttributeNames: names, ExpressionAttributeValues: values };
}
