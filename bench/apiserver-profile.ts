/**
 * CPU profiles of the kube-apiserver during a timed phase (`npm run bench -- --cpu-prof <dir>`), so that what a
 * peer costs the apiserver can be compared function by function: `go tool pprof -top <dir>/apiserver-w2-converge-x16-*`.
 *
 * The apiserver's pprof handler profiles for a fixed number of seconds and loses the profile when the client goes
 * away early, so a phase of unknown length is covered by back-to-back short profiles (pprof merges them).
 */
import { writeFile } from "node:fs/promises";
import { request } from "node:https";
import { join } from "node:path";
import { loadConnection } from "../src/client/config.ts";

const sliceSeconds = 5;

export interface ApiserverProfiling {
  /**
   * Waits for the slice in progress (at most a few seconds) and returns the files written; rejects if a slice
   * failed (no slice is taken after that).
   */
  stop(): Promise<string[]>;
}

/** Starts profiling; files are `<dir>/apiserver-<label>-<k>.pb.gz`. */
export async function profileApiserver(kubeconfig: string, dir: string, label: string): Promise<ApiserverProfiling> {
  const conn = await loadConnection({ kubeconfig });
  const url = new URL(`/debug/pprof/profile?seconds=${sliceSeconds}`, conn.server);
  const authorization = await conn.authorization();
  const fetchSlice = () =>
    new Promise<Buffer>((resolve, reject) => {
      const req = request(
        url,
        { ...conn.tls, headers: authorization ? { authorization } : {}, timeout: (sliceSeconds + 30) * 1000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            res.statusCode === 200
              ? resolve(Buffer.concat(chunks))
              : reject(new Error(`apiserver profile: HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString()}`)),
          );
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error("apiserver profile: timed out")));
      req.on("error", reject);
      req.end();
    });
  const files: string[] = [];
  let running = true;
  let failure: Error | undefined;
  const loop = (async () => {
    for (let k = 1; running; k++) {
      const file = join(dir, `apiserver-${label}-${String(k).padStart(3, "0")}.pb.gz`);
      await writeFile(file, await fetchSlice());
      files.push(file);
    }
  })().catch((err: Error) => {
    failure = err;
  });
  return {
    async stop() {
      running = false;
      await loop;
      if (failure) throw failure;
      return files;
    },
  };
}
