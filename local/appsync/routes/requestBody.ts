/** Reads a request body with a size cap, for the routes that take one. */
import type * as http from "node:http";

/** The body passed the route's cap; each route decides how it answers that. */
export class BodyTooLarge extends Error {}

/** The whole body, or a BodyTooLarge rejection once it passes `limit` bytes (the rest is drained, not kept). */
export function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new BodyTooLarge());
        req.resume();
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}
