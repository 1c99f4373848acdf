// fauxqs in its own process, for hosts that cannot load an ES module in process (jest's CommonJS sandbox).
// Plain ESM JavaScript so that `node` runs it without a TypeScript loader. Usage: node fauxqs-child.mjs [port]
// Prints one JSON line {"port": N} when listening; stops on SIGTERM/SIGINT or when stdin closes (the parent died).
import { buildApp } from "fauxqs";

const app = buildApp({ logger: false, host: "localhost" });
await app.listen({ port: Number(process.argv[2] ?? 0), host: "127.0.0.1" });
process.stdout.write(`${JSON.stringify({ port: app.server.address().port })}\n`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await app.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop);
process.stdin.on("error", stop);
process.stdin.resume();
