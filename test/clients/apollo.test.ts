/**
 * Apollo Client 4 with aws-appsync-auth-link + aws-appsync-subscription-link, unmodified, against `npm start` over
 * plain http/ws with a local ID token: it streams an answer and surfaces the errors a user must see.
 */
import { LocalStackDriver } from "../support/localStackDriver";
import { startStackProcess, type StackProcess } from "../support/localStackProcess";
import { runClientInChild } from "./support/childRun";
import { clientScenarioTests, type ClientRun } from "./support/expectations";

describe("Apollo Client 4 + AWS AppSync links against the local stack (http/ws)", () => {
  let stack: StackProcess | undefined;
  let run: ClientRun | undefined;

  beforeAll(async () => {
    stack = await startStackProcess(["--first-token-ms", "50", "--tokens-per-second", "400"]);
    run = { stack, driver: new LocalStackDriver(stack), report: await runClientInChild("apollo", stack) };
  }, 180_000);

  afterAll(async () => {
    await run?.driver.close();
    await stack?.stop();
  }, 30_000);

  clientScenarioTests(() => run!, "ws");
});
