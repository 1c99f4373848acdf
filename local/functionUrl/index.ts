/** The local Lambda Function URL: the runtime's streaming globals (runtime.ts) and the URL's HTTP front (server.ts). */
export { startFunctionUrl, MAX_REQUEST_BYTES, type FunctionUrlOptions, type LocalFunctionUrl } from "./server";
export { installLambdaStreamingGlobals, isStreamingHandler, LocalResponseStream, HTTP_INTEGRATION_CONTENT_TYPE, PRELUDE_DELIMITER, type StreamingHandler } from "./runtime";
