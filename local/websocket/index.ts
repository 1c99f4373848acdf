/** The local API Gateway WebSocket API (see websocketApi.ts) and what the stack and the tests use of it. */
export { startWebsocketApi, type LocalWebsocketApi, type WebsocketApiOptions, type WebsocketApiStats, type WebsocketFunctions, type WebsocketHandler } from "./websocketApi";
