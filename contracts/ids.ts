/** Session and message ids, as every producer and consumer checks them. */
import { z } from "zod";

/** Session and message ids: 8-64 characters of letters, digits, `-` and `_` (UUIDs fit). Mirrored in graphql/resolvers/receiveMessages.js; a test keeps the two equal. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{7,63}$/;

/** The zod schema of a session or message id. */
export const idSchema = z.string().regex(ID_PATTERN, "must be 8-64 letters, digits, '-' or '_'");
