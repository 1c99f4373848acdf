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
