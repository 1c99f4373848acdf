import { util, extensions } from "@aws-appsync/utils";

// Same pattern as ID_PATTERN in contracts/ids.ts (a test keeps them equal).
const SESSION_ID = "^[A-Za-z0-9][A-Za-z0-9_-]{7,63}$";

/** Rejects malformed session ids before the subscription is registered. */
export function request(ctx) {
  if (!util.matches(SESSION_ID, ctx.args.sessionId)) {
    util.error("sessionId must be 8-64 letters, digits, '-' or '_'", "BadRequest");
  }
  return { payload: null };
}

/** Only the caller's own events for this session: userId = caller's sub AND sessionId = argument. */
export function response(ctx) {
  extensions.setSubscriptionFilter(
    util.transform.toSubscriptionFilter({
      userId: { eq: ctx.identity.sub },
      sessionId: { eq: ctx.args.sessionId },
    }),
  );
  return null;
}
