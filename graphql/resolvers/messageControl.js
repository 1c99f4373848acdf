import { util } from "@aws-appsync/utils";

/**
 * Query.message, Mutation.stopGeneration and Query.myUsage: hands the field, its arguments and the caller's identity to
 * the message-control Lambda, which keys every read and write on the caller's own sub.
 */
export function request(ctx) {
  return {
    operation: "Invoke",
    payload: { field: ctx.info.fieldName, arguments: ctx.args, identity: ctx.identity },
  };
}

/** Bad input comes back as `{ error: { message, type } }`, so user mistakes do not count as Lambda errors. */
export function response(ctx) {
  if (ctx.error) {
    util.error("The request could not be processed", "InternalFailure");
  }
  if (ctx.result && ctx.result.error) {
    util.error(ctx.result.error.message, ctx.result.error.type);
  }
  return ctx.result;
}
