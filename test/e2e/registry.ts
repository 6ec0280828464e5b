/**
 * A tiny npm registry on 127.0.0.1 for tests: it serves one package from a tarball (its packument and the
 * tarball), and forwards every other request to the registry npm is configured with (`npm config get registry`),
 * so that a project depending on the package installs the rest of its tree as usual.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { request as httpsRequest } from "node:https";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";

export interface LocalRegistry {
  /** `http://127.0.0.1:<port>`, for `npm --registry`. */
  url: string;
  close(): Promise<void>;
}

export async function startRegistry(
  tarball: string,
  manifest: { name: string; version: string } & Record<string, unknown>,
): Promise<LocalRegistry> {
  const { stdout } = await promisify(execFile)("npm", ["config", "get", "registry"]);
  const upstream = new URL(stdout.trim().replace(/\/?$/, "/"));
  const data = await readFile(tarball);
  const file = `/${manifest.name}/-/${manifest.name.replace(/^@[^/]+\//, "")}-${manifest.version}.tgz`;
  const packumentPath = `/${manifest.name.replace("/", "%2f")}`;
  let url = "";

  const forward = (req: IncomingMessage, res: ServerResponse): void => {
    const target = new URL(req.url?.slice(1) ?? "", upstream);
    const headers = { ...req.headers, host: target.host };
    const send = target.protocol === "https:" ? httpsRequest : httpRequest;
    const out = send(target, { method: req.method, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on("error", (err) => res.writeHead(502).end(String(err)));
    req.pipe(out);
  };

  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === file) {
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": data.length }).end(data);
    } else if (path === packumentPath || path === `/${manifest.name}`) {
      const version = {
        ...manifest,
        _id: `${manifest.name}@${manifest.version}`,
        dist: {
          tarball: `${url}${file}`,
          shasum: createHash("sha1").update(data).digest("hex"),
          integrity: `sha512-${createHash("sha512").update(data).digest("base64")}`,
        },
      };
      const packument = {
        name: manifest.name,
        "dist-tags": { latest: manifest.version },
        versions: { [manifest.version]: version },
      };
      // Never cached: the next run serves another build under the same version.
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(JSON.stringify(packument));
    } else forward(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
