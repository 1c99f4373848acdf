/** GET of any other path: a file of the gateway's static folder (the web console), when it was given one. */
import { createReadStream, statSync } from "node:fs";
import * as path from "node:path";
import { GatewayError } from "../gatewayError";
import type { Exchange, GatewayContext } from "../router";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".map": "application/json",
};

/** Streams the file (a folder's index.html); 404 without a static folder, outside it or for a missing file. */
export function getStaticFile({ res, url }: Exchange, ctx: GatewayContext): void {
  if (!ctx.staticDir) throw notFound();
  const file = resolveFile(path.resolve(ctx.staticDir), url.pathname);
  res.writeHead(200, { "content-type": CONTENT_TYPES[path.extname(file)] ?? "application/octet-stream", "cache-control": "no-cache" });
  createReadStream(file).pipe(res);
}

/** The existing file a URL path names inside `root`; paths that escape it (`..`, encoded or not) are not found. */
function resolveFile(root: string, pathname: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    throw new GatewayError(400, "BadRequest", "bad path", "local");
  }
  let file = path.resolve(root, `.${decoded}`);
  if (file !== root && !file.startsWith(root + path.sep)) throw notFound();
  try {
    if (statSync(file).isDirectory()) file = path.join(file, "index.html");
    statSync(file);
  } catch {
    throw notFound();
  }
  return file;
}

function notFound(): GatewayError {
  return new GatewayError(404, "NotFound", "not found", "local");
}
