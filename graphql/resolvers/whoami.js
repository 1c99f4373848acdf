/** NONE data source: returns the caller's sub. */
export function request() {
  return { payload: null };
}

export function response(ctx) {
  return ctx.identity.sub;
}
