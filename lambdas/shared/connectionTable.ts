/**
 * The websocket transport's open connections (key schema in contracts/tables.ts CONNECTIONS_TABLE): $connect puts one
 * under the authorizer's verified user id, $disconnect and the worker (on GoneException) delete it, and the worker
 * lists one user's connections to post that user's events. Items expire a little after API Gateway's 2-hour limit.
 */
import { DeleteCommand, PutCommand, QueryCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { CONNECTIONS_TABLE } from "../../contracts/tables";
import { WEBSOCKET_LIMITS } from "../../contracts/websocketFrames";
import { allPages } from "./allPages";

/** A connection outlives API Gateway's 2-hour limit by this much before its item expires (a $disconnect that never ran). */
export const CONNECTION_TTL_SECONDS = WEBSOCKET_LIMITS.connectionMs / 1000 + 10 * 60;

export interface ConnectionTableOptions {
  doc: DynamoDBDocumentClient;
  tableName: string;
  /** Clock (ms), for tests. */
  now?: () => number;
}

const { partitionKey: PK, sortKey: SK, ttlAttribute: TTL } = CONNECTIONS_TABLE;

export class ConnectionTable {
  private readonly now: () => number;

  constructor(private readonly options: ConnectionTableOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Records an open connection of `userId` (the verified sub, never a client's word). */
  async put(userId: string, connectionId: string): Promise<void> {
    const at = this.now();
    const item = { [PK]: userId, [SK]: connectionId, connectedAt: new Date(at).toISOString(), [TTL]: Math.floor(at / 1000) + CONNECTION_TTL_SECONDS };
    await this.options.doc.send(new PutCommand({ TableName: this.options.tableName, Item: item }));
  }

  async remove(userId: string, connectionId: string): Promise<void> {
    await this.options.doc.send(new DeleteCommand({ TableName: this.options.tableName, Key: { [PK]: userId, [SK]: connectionId } }));
  }

  /** The user's connection ids, leaving out expired items DynamoDB has not deleted yet (TTL deletes lazily). */
  async list(userId: string): Promise<string[]> {
    const nowSeconds = Math.floor(this.now() / 1000);
    const items = await allPages((start) =>
      this.options.doc.send(
        new QueryCommand({
          TableName: this.options.tableName,
          KeyConditionExpression: "#pk = :user",
          ExpressionAttributeNames: { "#pk": PK },
          ExpressionAttributeValues: { ":user": userId },
          ExclusiveStartKey: start,
        }),
      ),
    );
    return items.filter((i) => typeof i[TTL] !== "number" || (i[TTL] as number) > nowSeconds).map((i) => String(i[SK]));
  }
}
