/** NONE data source: echoes the arguments, which triggers the receiveMessages subscription. */
export function request(ctx) {
  return { payload: ctx.args };
}

export function response(ctx) {
  return ctx.result;
}
