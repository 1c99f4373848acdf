import { util } from "@aws-appsync/utils";

/**
 * Hands the arguments, the caller's identity and AppSync's request id to the send-query Lambda; userId is taken from
 * identity there. Every field of one GraphQL request carries the same request id, so the Lambda starts at most one
 * generation per request (aliased sendQuery fields), beside the API's resolver count limit.
 */
export function request(ctx) {
  return {
    operation: "Invoke",
    payload: { arguments: ctx.args, identity: ctx.identity, requestId: ctx.request.headers["x-amzn-requestid"] },
  };
}

/**
 * The Lambda answers `{ error: { message, type, info } }` for bad input and for limits, so user mistakes do not count
 * as Lambda errors; a limit's `info` ({ limit, resetsAt }) becomes the error's errorInfo.
 */
export function response(ctx) {
  if (ctx.error) {
    util.error("The request could not be processed", "InternalFailure");
  }
  if (ctx.result.error) {
    util.error(ctx.result.error.message, ctx.result.error.type, null, ctx.result.error.info);
  }
  return ctx.result;
}
