/**
 * aws-amplify v6 as an app configures it: `Amplify.configure` with the GraphQL endpoint and the userPool auth mode,
 * a custom token provider (the local issuer's access token instead of a Cognito sign-in), `generateClient()`.
 * Amplify derives the real-time URL itself (`<endpoint>/realtime`, always wss://), so the stack runs with --tls and
 * this process needs NODE_EXTRA_CA_CERTS.
 */
import { Amplify } from "aws-amplify";
import { generateClient, type GraphQLResult } from "aws-amplify/api";
import { decodeJWT } from "aws-amplify/auth";
import { RECEIVE_MESSAGES_SUBSCRIPTION, SEND_QUERY_MUTATION } from "../../../contracts/graphqlOperations";
import type { ClientUnderTest, MutationOutcome, SurfacedError } from "./scenarios";

/** What Amplify.configure needs of the stack. */
export interface AmplifyTarget {
  graphqlUrl: string;
  region: string;
}

/** Configures Amplify once for this process and returns the client; `accessToken()` is asked on every call. */
export function amplifyClient(target: AmplifyTarget, accessToken: () => string): ClientUnderTest {
  Amplify.configure(
    { API: { GraphQL: { endpoint: target.graphqlUrl, region: target.region, defaultAuthMode: "userPool" } } },
    { Auth: { tokenProvider: { getTokens: async () => ({ accessToken: decodeJWT(accessToken()) }) } } },
  );
  const client = generateClient();
  return {
    subscribe(sessionId, onData, onError) {
      const subscription = client.graphql({ query: RECEIVE_MESSAGES_SUBSCRIPTION, variables: { sessionId } }) as unknown as Subscribable;
      const handle = subscription.subscribe({
        next: (result) => {
          const channel = result.data?.receiveMessages;
          if (channel) onData(channel.data);
        },
        error: (err) => onError(errorText(err)),
      });
      return { close: () => handle.unsubscribe() };
    },
    async sendQuery(input): Promise<MutationOutcome> {
      try {
        const result = (await client.graphql({ query: SEND_QUERY_MUTATION, variables: { input } })) as GraphQLResult;
        return { data: result.data };
      } catch (err) {
        return { error: surfaced(err) };
      }
    },
  };
}

/** The subscription half of client.graphql's overloads, for an untyped document. */
interface Subscribable {
  subscribe(observer: { next(result: { data?: { receiveMessages?: { data: string } } }): void; error(err: unknown): void }): { unsubscribe(): void };
}

/** An Amplify GraphQL error entry; for a refused HTTP request it keeps the response in originalError. */
interface AmplifyErrorEntry {
  message: string;
  errorType?: string;
  originalError?: { response?: { statusCode?: number; body?: string } };
}

/** Amplify rejects and errors with `{ errors: [...] }`, as a GraphQL result. */
function errorText(err: unknown): string {
  return (err as { errors?: AmplifyErrorEntry[] }).errors?.[0]?.message ?? String(err);
}

/** A mutation error as a caller reads it: the first entry, with the HTTP status and body when Amplify kept them. */
function surfaced(err: unknown): SurfacedError {
  const first = (err as { errors?: AmplifyErrorEntry[] }).errors?.[0];
  if (!first) return { message: String(err) };
  const response = first.originalError?.response;
  return { message: first.message, errorType: first.errorType, status: response?.statusCode, body: response?.body };
}
