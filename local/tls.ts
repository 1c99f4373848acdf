/**
 * The self-signed certificate `npm start -- --tls` serves: one key and certificate for 127.0.0.1 and localhost,
 * generated with `selfsigned`, kept in the git-ignored `.local-tls/` at the repository root and reused across runs
 * until it nears its end. Clients trust `cert.pem` (NODE_EXTRA_CA_CERTS, or the browser's certificate settings).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { generate } from "selfsigned";

/** A certificate and its key in PEM, and the path of the certificate file clients are told to trust. */
export interface LocalCertificate {
  key: string;
  cert: string;
  /** `<dir>/cert.pem`: the certificate is its own CA, so this is what NODE_EXTRA_CA_CERTS names. */
  caFile: string;
}

/** `.local-tls/` at the repository root (git-ignored). */
export const LOCAL_TLS_DIR = path.resolve(__dirname, "..", ".local-tls");
/** The names the certificate covers: the only hosts the local servers answer to. */
export const LOCAL_TLS_HOSTS = { ips: ["127.0.0.1"], dnsNames: ["localhost"] } as const;
const VALIDITY_DAYS = 365;
/** A certificate expiring sooner than this is replaced, so a long session never sees it lapse. */
const RENEW_BEFORE_DAYS = 30;
const DAY_MS = 86_400_000;
/** A second copy of a signal within this is the same Ctrl-C delivered twice, not a user asking to force the stop. */
const DUPLICATE_SIGNAL_MS = 1000;

/** The stored certificate when it is still good, otherwise a new one written in its place. */
export async function localCertificate(dir: string = LOCAL_TLS_DIR, now: Date = new Date()): Promise<LocalCertificate> {
  const files = { key: path.join(dir, "key.pem"), cert: path.join(dir, "cert.pem") };
  const stored = readStored(files);
  if (stored && isUsable(stored, now)) return { ...stored, caFile: files.cert };
  const fresh = await generateCertificate(now);
  writeStored(dir, files, fresh);
  return { ...fresh, caFile: files.cert };
}

function readStored(files: { key: string; cert: string }): { key: string; cert: string } | undefined {
  try {
    return { key: readFileSync(files.key, "utf8"), cert: readFileSync(files.cert, "utf8") };
  } catch {
    return undefined;
  }
}

/** Parses, matches its key, covers our hosts, and is valid now and for RENEW_BEFORE_DAYS more. */
function isUsable(pems: { key: string; cert: string }, now: Date): boolean {
  try {
    const x509 = new X509Certificate(pems.cert);
    const coversHosts = LOCAL_TLS_HOSTS.ips.every((ip) => x509.checkIP(ip)) && LOCAL_TLS_HOSTS.dnsNames.every((n) => x509.checkHost(n));
    const validFrom = Date.parse(x509.validFrom);
    const validTo = Date.parse(x509.validTo);
    const inWindow = validFrom <= now.getTime() && validTo - now.getTime() > RENEW_BEFORE_DAYS * DAY_MS;
    return coversHosts && inWindow && x509.checkPrivateKey(createPrivateKey(pems.key));
  } catch {
    return false;
  }
}

/** An EC P-256 server certificate for 127.0.0.1 and localhost, valid from a minute ago for VALIDITY_DAYS. */
async function generateCertificate(now: Date): Promise<{ key: string; cert: string }> {
  // A minute of slack: a client whose clock is a little behind still accepts it.
  const notBeforeDate = new Date(now.getTime() - 60_000);
  const pems = await generate([{ name: "commonName", value: "llm-stream-platform local stack" }], {
    keyType: "ec",
    algorithm: "sha256",
    notBeforeDate,
    notAfterDate: new Date(notBeforeDate.getTime() + VALIDITY_DAYS * DAY_MS),
    extensions: [
      { name: "basicConstraints", cA: false, critical: true },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [...LOCAL_TLS_HOSTS.ips.map((ip) => ({ type: 7 as const, ip })), ...LOCAL_TLS_HOSTS.dnsNames.map((value) => ({ type: 2 as const, value }))],
      },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}

/** Writes each file whole (temp file + rename), the key readable by its owner only. */
function writeStored(dir: string, files: { key: string; cert: string }, pems: { key: string; cert: string }): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const writeWhole = (file: string, text: string, mode: number) => {
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, text, { mode });
    renameSync(tmp, file);
  };
  writeWhole(files.key, pems.key, 0o600);
  writeWhole(files.cert, pems.cert, 0o644);
}

/**
 * Node reads NODE_EXTRA_CA_CERTS only when it starts, so a process that must call the local https servers (the
 * stack's own handlers and JWKS fetch, `npm run token`) runs its same command again in a child that trusts `caFile`:
 * signals are passed on, and this process exits with the child's code. Returns false, doing nothing, when this
 * process already trusts it. The variable names one file; the child talks only to 127.0.0.1, so replacing a
 * developer's own value there loses nothing.
 */
export function runAgainTrusting(caFile: string): boolean {
  const current = process.env.NODE_EXTRA_CA_CERTS;
  if (current && path.resolve(current) === path.resolve(caFile)) return false;
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: "inherit",
    // Its own process group: a Ctrl-C reaches it once, through this process, not twice.
    detached: true,
    env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile },
  });
  forwardSignals(child);
  child.once("error", (err) => {
    process.stderr.write(`could not run again with NODE_EXTRA_CA_CERTS: ${err.message}\n`);
    process.exit(1);
  });
  child.once("exit", (code) => process.exit(code ?? 1));
  return true;
}

/**
 * Passes SIGINT and SIGTERM on to `child`. Under tsx the same Ctrl-C can arrive twice (from the terminal's process
 * group, and relayed by tsx when it does not hear back within 30 ms); the copy is dropped, so the child does not
 * take it for a second Ctrl-C that forces the stop.
 */
function forwardSignals(child: ChildProcess): void {
  let last: { signal: NodeJS.Signals; at: number } | undefined;
  const forward = (signal: NodeJS.Signals) => {
    const now = Date.now();
    if (last?.signal === signal && now - last.at < DUPLICATE_SIGNAL_MS) return;
    last = { signal, at: now };
    child.kill(signal);
  };
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
}
