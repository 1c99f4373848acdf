/** The certificate of `npm start -- --tls`: covers 127.0.0.1 and localhost, is reused, and is replaced when unusable. */
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { localCertificate } from "../../../local/tls";

const DAY_MS = 86_400_000;
const freshDir = () => mkdtempSync(path.join(tmpdir(), "local-tls-"));

/** GET / on an https server with this key and certificate, as a client trusting only `ca` sees it at `host`. */
async function handshake(pems: { key: string; cert: string }, ca: string, host: string): Promise<string> {
  const server = https.createServer({ key: pems.key, cert: pems.cert }, (_req, res) => res.end("ok"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise<string>((resolve, reject) => {
      // The name checked is servername (SNI takes no IP address, so none for 127.0.0.1), the connection goes to 127.0.0.1.
      const req = https.get({ host: "127.0.0.1", port, path: "/", ca, ...(host === "127.0.0.1" ? {} : { servername: host }) }, (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d));
        res.on("end", () => resolve(text));
      });
      req.on("error", reject);
    });
  } finally {
    server.close();
  }
}

test("a new certificate covers IP 127.0.0.1 and DNS localhost, and a client trusting cert.pem completes the handshake", async () => {
  const dir = freshDir();
  const cert = await localCertificate(dir);
  expect(cert.caFile).toBe(path.join(dir, "cert.pem"));
  expect(readFileSync(cert.caFile, "utf8")).toBe(cert.cert);
  const x509 = new X509Certificate(cert.cert);
  expect(x509.subjectAltName).toBe("IP Address:127.0.0.1, DNS:localhost");
  expect(statSync(path.join(dir, "key.pem")).mode & 0o077).toBe(0);
  expect(await handshake(cert, cert.cert, "127.0.0.1")).toBe("ok");
  expect(await handshake(cert, cert.cert, "localhost")).toBe("ok");
});

test("the stored certificate is reused across runs, and replaced when it nears its end or no longer matches its key", async () => {
  const dir = freshDir();
  const first = await localCertificate(dir);
  expect((await localCertificate(dir)).cert).toBe(first.cert);

  const nearEnd = new Date(Date.parse(new X509Certificate(first.cert).validTo) - 10 * DAY_MS);
  const renewed = await localCertificate(freshCopy(first), nearEnd);
  expect(renewed.cert).not.toBe(first.cert);
  expect(readFileSync(renewed.caFile, "utf8")).toBe(renewed.cert);

  const otherKey = (await localCertificate(freshDir())).key;
  const mismatched = freshCopy({ key: otherKey, cert: first.cert });
  const replaced = await localCertificate(mismatched);
  expect(replaced.cert).not.toBe(first.cert);
  expect(await handshake(replaced, readFileSync(replaced.caFile, "utf8"), "127.0.0.1")).toBe("ok");
});

/** A new folder holding these PEMs as key.pem and cert.pem. */
function freshCopy(pems: { key: string; cert: string }): string {
  const dir = freshDir();
  writeFileSync(path.join(dir, "key.pem"), pems.key);
  writeFileSync(path.join(dir, "cert.pem"), pems.cert);
  return dir;
}
