/**
 * aws-amplify v6 (generateClient, userPool auth mode), unmodified, against `npm start -- --tls`: Amplify derives
 * wss://<host>/graphql/realtime itself, so it needs TLS even locally. Its process trusts the local certificate
 * through NODE_EXTRA_CA_CERTS, and a custom token provider supplies the local issuer's access token. (Amplify's own
 * message for an HTTP 401 is "Unknown error"; the response it keeps beside it says why.)
 */
import { LocalStackDriver } from "../support/localStackDriver";
import { startStackProcess, type StackProcess } from "../support/localStackProcess";
import { runClientInChild } from "./support/childRun";
import { clientScenarioTests, type ClientRun } from "./support/expectations";

describe("aws-amplify v6 against the local stack (--tls, https/wss)", () => {
  let stack: StackProcess | undefined;
  let run: ClientRun | undefined;

  beforeAll(async () => {
    stack = await startStackProcess(["--tls", "--first-token-ms", "50", "--tokens-per-second", "400"]);
    const caFile = stack.ready.clientConfig.caCertificateFile;
    if (!caFile) throw new Error("npm start -- --tls wrote no caCertificateFile into the client config");
    run = { stack, driver: new LocalStackDriver(stack), report: await runClientInChild("amplify", stack, { NODE_EXTRA_CA_CERTS: caFile }) };
  }, 180_000);

  afterAll(async () => {
    await run?.driver.close();
    await stack?.stop();
  }, 30_000);

  it("the stack serves https/wss and names the certificate to trust in the client config", () => {
    const { graphqlUrl, realtimeUrl, webUrl, issuerUrl } = stack!.ready.endpoints;
    for (const url of [graphqlUrl, webUrl, issuerUrl]) expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+/);
    expect(realtimeUrl).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/graphql$/);
    expect(stack!.ready.clientConfig.caCertificateFile).toMatch(/\.local-tls\/cert\.pem$/);
  });

  clientScenarioTests(() => run!, "wss");
});
