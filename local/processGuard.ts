/**
 * The last line of defence of `npm start`: an error nobody caught in one connection (an unhandled rejection or an
 * uncaught exception) is logged and the local stack keeps serving everyone else, instead of the process exiting.
 */

/** Where the guard writes; stderr by default. */
export type GuardLog = (line: string) => void;

/** Installs the process-wide handlers once; returns the function that removes them again. */
export function guardProcess(log: GuardLog = (line) => process.stderr.write(line)): () => void {
  const report = (what: string) => (err: unknown) => {
    log(`[local stack] ${what}, kept running: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  };
  const onRejection = report("unhandled rejection");
  const onException = report("uncaught exception");
  process.on("unhandledRejection", onRejection);
  process.on("uncaughtException", onException);
  return () => {
    process.off("unhandledRejection", onRejection);
    process.off("uncaughtException", onException);
  };
}
