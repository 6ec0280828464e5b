/**
 * CPU profiles of the kube-apiserver during a timed phase (`npm run bench -- --cpu-prof <dir>`), so that what a
 * peer costs the apiserver can be compared function by function: `go tool pprof -top <dir>/apiserver-w2-converge-x16-*`.
 *
 * The apiserver's pprof handler profiles for a fixed number of seconds and loses the profile when the client goes
 * away early, so a phase of unknown length is covered by back-to-back short profiles (pprof merges them).
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { PlaneHttp } from "../src/cluster/http.ts";

const sliceSeconds = 5;

export interface ApiserverProfiling {
  /**
   * Waits for the slice in progress (at most a few seconds) and returns the files written; rejects if a slice
   * failed (no slice is taken after that).
   */
  stop(): Promise<string[]>;
}

/** Starts profiling through the plane's own HTTP client; files are `<dir>/apiserver-<label>-<k>.pb.gz`. */
export function profileApiserver(http: PlaneHttp, dir: string, label: string): ApiserverProfiling {
  const fetchSlice = async () => {
    const res = await http.bytes(`/debug/pprof/profile?seconds=${sliceSeconds}`, {
      timeoutMs: (sliceSeconds + 30) * 1000,
    });
    if (res.status !== 200) throw new Error(`apiserver profile: HTTP ${res.status}: ${res.body.toString()}`);
    return res.body;
  };
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
