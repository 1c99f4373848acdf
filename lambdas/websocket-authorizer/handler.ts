/** The WebSocket API's $connect authorizer: see authorizer.ts. The verifier (and its JWKS cache) lives at module scope. */
import { readAuthorizerSettings } from "../../contracts/runtimeSettings";
import { createPowertools, withPowertools } from "../shared/powertools";
import { UserPoolTokenVerifier } from "../shared/userPoolToken";
import { authorizeConnect, type ConnectAuthorizerEvent } from "./authorizer";

const powertools = createPowertools("websocket-authorizer");
const settings = readAuthorizerSettings();
const verifier = new UserPoolTokenVerifier({ issuerUrl: settings.tokenIssuer, clientId: settings.tokenClientId });

export const handler = withPowertools(powertools, (event: ConnectAuthorizerEvent) => authorizeConnect(event, verifier, powertools.logger));
