/** The GraphQL documents the producers and every client send (graphql/schema.graphql); values only ever travel as variables. */

/** What the worker (direct) and the relay send for each event. */
export const PUBLISH_RESPONSE_MUTATION = `mutation PublishResponse($sessionId: String!, $userId: String!, $data: String!) {
  publishResponse(sessionId: $sessionId, userId: $userId, data: $data) { sessionId userId data }
}`;

/** A client's subscription to its own session. */
export const RECEIVE_MESSAGES_SUBSCRIPTION = `subscription ReceiveMessages($sessionId: String!) {
  receiveMessages(sessionId: $sessionId) { sessionId userId data }
}`;

/** Starts one generation. */
export const SEND_QUERY_MUTATION = `mutation SendQuery($input: SendQueryInput!) {
  sendQuery(input: $input) { sessionId messageId }
}`;

/** Stops a generation of the caller's own message; idempotent. */
export const STOP_GENERATION_MUTATION = `mutation StopGeneration($sessionId: String!, $messageId: String!) {
  stopGeneration(sessionId: $sessionId, messageId: $messageId) { sessionId messageId stopped }
}`;

/** The durable record of the caller's own message: its status and its events after a sequence number. */
export const MESSAGE_QUERY = `query Message($sessionId: String!, $messageId: String!, $afterSequence: Int) {
  message(sessionId: $sessionId, messageId: $messageId, afterSequence: $afterSequence) { sessionId messageId status events }
}`;

/** The caller's own usage per UTC day and model, `from` and `to` inclusive (default: the last 30 days). */
export const MY_USAGE_QUERY = `query MyUsage($from: AWSDate, $to: AWSDate) {
  myUsage(from: $from, to: $to) { day modelId messages inputTokens outputTokens guardrailInterventions costUsd }
}`;
