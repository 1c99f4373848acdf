/** Public surface of the local AppSync gateway (used by local/stack.ts and tests). */
export { startGateway, type GatewayOptions, type LocalGateway } from "./gateway";
export { GatewayFaults, type GatewayStats, type PublishFaultOptions, type FaultState } from "./faults";
export { toSubscriptionFilter, matchesFilter, matchesArguments, type SubscriptionFilter } from "./subscriptionFilter";
export { verifySigV4, type LocalCredentials } from "./sigv4";
