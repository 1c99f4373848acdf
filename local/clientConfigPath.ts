/** Where `npm start` writes the local client config and where `npm run chat`, `npm run token`, the bench and the tests read it. */
import * as path from "node:path";

/** client-config.local.json at the repository root (git-ignored). */
export const LOCAL_CLIENT_CONFIG_PATH = path.resolve(__dirname, "..", "client-config.local.json");
