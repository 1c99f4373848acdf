import { util } from "@aws-appsync/utils";

/** Hands the arguments and the caller's identity to the send-query Lambda; userId is taken from identity there. */
export function request(ctx) {
  return {
    operation: "Invoke",
    payload: { arguments: ctx.args, identity: ctx.identity },
  };
}

/** The Lambda answers `{ error: { message, type } }` for bad input, so user mistakes do not count as Lambda errors. */
export function response(ctx) {
  if (ctx.error) {
    util.error("The request could not be processed", "InternalFailure");
  }
  if (ctx.result.error) {
    util.error(ctx.result.error.message, ctx.result.error.type);
  }
  return ctx.result;
}
