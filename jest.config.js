/** Tests compile with swc (no type-checking: `npm run typecheck` does that once, see toolchain notes). */
// The SDK's notice about its own future Node support would repeat in every test file (Node 20 is supported here).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.(t|j)sx?$": ["@swc/jest", { jsc: { target: "es2022" }, module: { type: "commonjs" } }] },
  transformIgnorePatterns: ["/node_modules/"],
  testTimeout: 30000,
  // Two workers even on a 2-core machine (jest's default there is one): most suites wait on streams, timers and child
  // processes rather than compute, so two in parallel halve the wall time (about 10 min instead of 16+ for npm test).
  maxWorkers: 2,
};
