/**
 * One published client's run against a running local stack, in a process of its own: `tsx runClient.ts
 * <amplify|apollo>` with CLIENT_TEST_TARGET (JSON ClientTarget) in the environment. Prints the Observations as one
 * JSON line and exits: Node reads NODE_EXTRA_CA_CERTS only at start (Amplify over wss), and the libraries' own
 * timers (a 15 s connection-ack check in the Apollo link) end with the process instead of holding jest open.
 */
import type { TokenUse } from "../../../local/issuer";
import { requestToken } from "../../../local/issuer/tokenCli";
import { amplifyClient } from "./amplifyClient";
import { apolloClient } from "./apolloClient";
import { runScenarios, type ClientUnderTest } from "./scenarios";
import { SocketWatch } from "./socketWatch";

/** Which library, and the token kind it sends: Amplify's userPool mode sends access tokens, the Apollo link any. */
export const CLIENTS = { amplify: "access", apollo: "id" } as const satisfies Record<string, TokenUse>;
export type ClientName = keyof typeof CLIENTS;

/** Where the stack is. */
export interface ClientTarget {
  graphqlUrl: string;
  issuerUrl: string;
  region: string;
}

/** The client of `name`, reading the current token on every call. */
function clientFor(name: ClientName, target: ClientTarget, token: () => string): ClientUnderTest {
  return name === "amplify" ? amplifyClient(target, token) : apolloClient(target.graphqlUrl, target.region, token);
}

async function main(name: string | undefined): Promise<void> {
  if (name !== "amplify" && name !== "apollo") throw new Error(`usage: runClient.ts <${Object.keys(CLIENTS).join("|")}>`);
  const target = JSON.parse(process.env.CLIENT_TEST_TARGET ?? "") as ClientTarget;
  const sockets = new SocketWatch();
  sockets.install();
  let token = "";
  const observations = await runScenarios({
    client: clientFor(name, target, () => token),
    sockets,
    mintToken: (expiresInSeconds) => requestToken(target.issuerUrl, "alice", expiresInSeconds, CLIENTS[name]),
    useToken: (next) => (token = next),
  });
  process.stdout.write(`${JSON.stringify({ observations, socketUrls: sockets.urls })}\n`);
}

main(process.argv[2]).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
