/** The WebSocket API's $connect authorizer: see authorizer.ts. The verifier (and its JWKS cache) lives at module scope. */
import { readTokenSettings } from "../../contracts/runtimeSettings";
import { createPowertools, withPowertools } from "../shared/powertools";
import { UserPoolTokenVerifier } from "../shared/userPoolToken";
import { authorizeConnect, type ConnectAuthorizerEvent } from "./authorizer";

const powertools = createPowertools("websocket-authorizer");
const settings = readTokenSettings();
const verifier = new UserPoolTokenVerifier({ issuerUrl: settings.jwtIssuer, clientId: settings.jwtClientId });

export const handler = withPowertools(powertools, (event: ConnectAuthorizerEvent) => authorizeConnect(event, verifier, powertools.logger));
