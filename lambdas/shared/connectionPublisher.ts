/**
 * The websocket transport's event sink: posts each stream event (the envelope JSON, unchanged, one event per WebSocket
 * message) with PostToConnection to every open connection of the event's user, found in the connections table, so
 * another user's connection never gets it. A GoneException (the client went away and $disconnect has not removed its
 * item yet) deletes that connection's item and ends delivery to it; the message goes on, and its durable record still
 * has every event for message(...). Any other failed post fails the event, after the SDK's own retries.
 */
import { GoneException, PostToConnectionCommand, type ApiGatewayManagementApiClient } from "@aws-sdk/client-apigatewaymanagementapi";
import { serializeEvent, type StreamEvent } from "../../contracts/streamEvents";
import { byteLength } from "../../contracts/utf8";
import { WEBSOCKET_LIMITS } from "../../contracts/websocketFrames";
import type { ConnectionTable } from "./connectionTable";
import type { EventPublisher, PublishOptions } from "./eventPublisher";
import type { RuntimeLogger, RuntimeMetrics } from "./telemetry";

export interface ConnectionPublisherOptions {
  /** The @connections management API of the WebSocket API's stage. */
  management: ApiGatewayManagementApiClient;
  connections: ConnectionTable;
  logger: RuntimeLogger;
  metrics: RuntimeMetrics;
  /** How long a message reuses its user's connection list before reading it again (default 1000 ms). */
  refreshMs?: number;
  /** Clock (ms), for tests. */
  now?: () => number;
}

/** One message's view of its user's connections, read once per refreshMs. */
interface ConnectionList {
  messageId: string;
  ids: string[];
  readAt: number;
}

const isGone = (e: unknown) => e instanceof GoneException || (e as { name?: string })?.name === "GoneException";

export function createConnectionPublisher(options: ConnectionPublisherOptions): EventPublisher {
  const now = options.now ?? Date.now;
  const refreshMs = options.refreshMs ?? 1000;
  // Per user, the latest message's list: a new message reads afresh, so a connection opened just before it is never missed.
  const lists = new Map<string, ConnectionList>();

  const connectionsOf = async (event: StreamEvent): Promise<string[]> => {
    const cached = lists.get(event.userId);
    if (cached && cached.messageId === event.data.messageId && now() - cached.readAt < refreshMs) return cached.ids;
    const ids = await options.connections.list(event.userId);
    lists.set(event.userId, { messageId: event.data.messageId, ids, readAt: now() });
    return ids;
  };

  const forget = async (userId: string, connectionId: string): Promise<void> => {
    const cached = lists.get(userId);
    if (cached) cached.ids = cached.ids.filter((id) => id !== connectionId);
    options.metrics.addMetric("ConnectionsGone", "Count", 1);
    // Best effort: the item's TTL removes it anyway.
    await options.connections.remove(userId, connectionId).catch((error: unknown) => options.logger.warn("could not delete a gone connection", { connectionId, error }));
  };

  /** Posts to one connection: undefined when delivered or gone, else the error. */
  const postTo = async (userId: string, connectionId: string, data: string, signal?: AbortSignal): Promise<unknown> => {
    try {
      await options.management.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: data }), signal ? { abortSignal: signal } : {});
      return undefined;
    } catch (error) {
      if (!isGone(error)) return error;
      await forget(userId, connectionId);
      return undefined;
    }
  };

  return {
    async publish(event: StreamEvent, publishOptions: PublishOptions = {}): Promise<void> {
      const { signal } = publishOptions;
      signal?.throwIfAborted();
      const data = serializeEvent(event);
      const bytes = byteLength(data);
      if (bytes > WEBSOCKET_LIMITS.messageBytes) throw new Error(`event of ${bytes} bytes is over API Gateway's ${WEBSOCKET_LIMITS.messageBytes}-byte WebSocket message limit`);
      const ids = await connectionsOf(event);
      const failures = (await Promise.all(ids.map((id) => postTo(event.userId, id, data, signal)))).filter((e) => e !== undefined);
      if (failures.length > 0) throw failures[0];
    },
  };
}
