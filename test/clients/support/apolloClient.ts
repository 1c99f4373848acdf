/**
 * Apollo Client 4 with aws-appsync-auth-link and aws-appsync-subscription-link, set up as their READMEs show, against
 * the gateway's GraphQL URL (the subscription link derives `<url>/realtime`, http -> ws). The token comes from a
 * function, so a test can change it between calls.
 */
import { ApolloClient, ApolloLink, CombinedGraphQLErrors, HttpLink, InMemoryCache, ServerError, gql } from "@apollo/client";
import { AUTH_TYPE, createAuthLink } from "aws-appsync-auth-link";
import { createSubscriptionHandshakeLink } from "aws-appsync-subscription-link";
import { RECEIVE_MESSAGES_SUBSCRIPTION, SEND_QUERY_MUTATION } from "../../../contracts/graphqlOperations";
import type { ClientUnderTest, MutationOutcome, SurfacedError } from "./scenarios";

/** An Apollo client on the AWS links, and its stop. */
export interface ApolloUnderTest extends ClientUnderTest {
  stop(): void;
}

/** The client, user-pool auth with `jwtToken()` (the README's AMAZON_COGNITO_USER_POOLS). */
export function apolloClient(url: string, region: string, jwtToken: () => string): ApolloUnderTest {
  const auth = { type: AUTH_TYPE.AMAZON_COGNITO_USER_POOLS, jwtToken: async () => jwtToken() } as const;
  const link = ApolloLink.from([createAuthLink({ url, region, auth }), createSubscriptionHandshakeLink({ url, region, auth }, new HttpLink({ uri: url }))]);
  const client = new ApolloClient({ link, cache: new InMemoryCache() });
  return {
    subscribe(sessionId, onData, onError) {
      const observable = client.subscribe({ query: gql(RECEIVE_MESSAGES_SUBSCRIPTION), variables: { sessionId }, fetchPolicy: "no-cache" });
      // Apollo Client 4 hands link errors to `next` as `result.error`, wrapping a non-Error in UnconventionalError.
      const subscription = observable.subscribe({
        next: (result) => {
          if (result.error) onError(errorText(result.error));
          const channel = (result.data as { receiveMessages?: { data: string } } | undefined)?.receiveMessages;
          if (channel) onData(channel.data);
        },
        error: (err: unknown) => onError(errorText(err)),
      });
      return { close: () => subscription.unsubscribe() };
    },
    async sendQuery(input): Promise<MutationOutcome> {
      try {
        const result = await client.mutate({ mutation: gql(SEND_QUERY_MUTATION), variables: { input }, fetchPolicy: "no-cache" });
        return { data: result.data };
      } catch (err) {
        return { error: surfaced(err) };
      }
    },
    stop: () => client.stop(),
  };
}

/** A subscription error's text: the GraphQL-style `errors` the link puts in the cause, or the error's message. */
function errorText(err: unknown): string {
  const cause = (err as { cause?: { errors?: { message?: string }[] } }).cause;
  return cause?.errors?.[0]?.message ?? (err as Error).message;
}

/** A mutation error as a caller reads it: the GraphQL errors, or the HTTP status and body of a refused request. */
function surfaced(err: unknown): SurfacedError {
  if (CombinedGraphQLErrors.is(err)) {
    const first = err.errors[0] as { message: string; errorType?: string };
    return { message: first.message, errorType: first.errorType };
  }
  if (ServerError.is(err)) return { message: err.message, status: err.statusCode, body: err.bodyText };
  return { message: (err as Error).message };
}
