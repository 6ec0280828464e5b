/**
 * Does the way an operator's requests reach the apiserver change what everyone else sees? Sixteen closed loops of
 * ConfigMap PUTs (the operator, backlogged) go either over Converge's client (HTTP/1.1, one connection per request
 * in flight) or over one HTTP/2 connection with sixteen streams (how client-go sends them), while a paced generator
 * sends 100 merge patches a second over Converge's client and times each. Per round: the operator's writes per
 * second, the generator's p50 / p99, and the apiserver's CPU per write (from /proc, so the plane must run here).
 * Pin the apiserver to one core and this process to the other, as write-cost.ts says:
 *
 *   taskset -apc 0 $(pgrep -n kube-apiserver)
 *   KUBECONFIG=... taskset -c 1 node bench/micro/connections.ts --pid $(pgrep -n kube-apiserver) [--rounds 3]
 */
import { connect } from "node:http2";
import { parseArgs } from "node:util";
import { Client } from "../../src/client/index.ts";
import { credentialsFromKubeconfig } from "../../src/cluster/state.ts";
import { corev1 } from "../../src/types/index.ts";
import { processCpuSeconds } from "../proc.ts";

const { values } = parseArgs({
  options: {
    pid: { type: "string" },
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "20" },
  },
});
const pid = Number(values.pid);
const kubeconfig = process.env.KUBECONFIG;
if (!Number.isInteger(pid) || pid <= 0 || !kubeconfig) {
  process.stderr.write("usage: KUBECONFIG=... node bench/micro/connections.ts --pid <kube-apiserver pid>\n");
  process.exit(2);
}
const seconds = Number(values.seconds);
const credentials = await credentialsFromKubeconfig(kubeconfig);
if (!credentials?.clientCert) throw new Error(`${kubeconfig}: a client certificate is needed`);
const generator = await Client.connect({ kubeconfig, fieldManager: "generator" });
const http1 = await Client.connect({ kubeconfig, fieldManager: "operator" });
const http2 = connect(credentials.server, {
  ca: credentials.caCert,
  cert: credentials.clientCert,
  key: credentials.clientKey,
});

const ns = `conn-${Date.now().toString(36)}`;
await generator.create(corev1.Namespace, { metadata: { name: ns } });
const objects = 200;
const latest = new Map<string, corev1.ConfigMap>();
for (let i = 0; i < objects; i++) {
  await generator.create(corev1.ConfigMap, { metadata: { name: `g-${i}`, namespace: ns }, data: { v: "0" } });
  const cm = await generator.create(corev1.ConfigMap, {
    metadata: { name: `o-${i}`, namespace: ns },
    data: { v: "0" },
  });
  latest.set(`o-${i}`, cm);
}

/** A PUT on the HTTP/2 connection; resolves with the status and the answer's body. */
function put2(path: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http2.request({ ":method": "PUT", ":path": path, "content-type": "application/json" });
    let status = 0;
    const chunks: Buffer[] = [];
    req.on("response", (headers) => {
      status = Number(headers[":status"]);
    });
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve({ status, body: Buffer.concat(chunks).toString() }));
    req.on("error", reject);
    req.end(body);
  });
}

/** One PUT of the next value; false on a Conflict (the object is read again). */
async function write(transport: "HTTP/1.1" | "HTTP/2", name: string): Promise<boolean> {
  const cm = latest.get(name) as corev1.ConfigMap;
  const next = { ...cm, data: { v: String(Number(cm.data?.v ?? 0) + 1) } };
  if (transport === "HTTP/1.1") {
    const written = await http1.update(corev1.ConfigMap, next).catch(() => undefined);
    latest.set(name, written ?? (await http1.get(corev1.ConfigMap, { namespace: ns, name })));
    return written !== undefined;
  }
  const answer = await put2(`/api/v1/namespaces/${ns}/configmaps/${name}`, JSON.stringify(next));
  if (answer.status === 200) latest.set(name, JSON.parse(answer.body) as corev1.ConfigMap);
  else latest.set(name, await http1.get(corev1.ConfigMap, { namespace: ns, name }));
  return answer.status === 200;
}

async function round(transport: "HTTP/1.1" | "HTTP/2"): Promise<void> {
  const until = Date.now() + seconds * 1000;
  let written = 0;
  let conflicts = 0;
  const operator = Array.from({ length: 16 }, async (_, worker) => {
    for (let i = worker; Date.now() < until; i += 16) {
      if (await write(transport, `o-${i % objects}`)) written++;
      else conflicts++;
    }
  });
  const latencies: number[] = [];
  const paced = (async () => {
    const sent: Promise<void>[] = [];
    const start = Date.now();
    for (let k = 0; Date.now() < until; k++) {
      const wait = start + k * 10 - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const t = performance.now();
      const patch = generator.patch(corev1.ConfigMap, { namespace: ns, name: `g-${k % objects}` }, "merge", {
        data: { v: String(k) },
      });
      sent.push(patch.then(() => void latencies.push(performance.now() - t)));
    }
    await Promise.all(sent);
  })();
  const before = processCpuSeconds(pid);
  await Promise.all([...operator, paced]);
  const cpuMs = (processCpuSeconds(pid) - before) * 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => (latencies[Math.floor((latencies.length - 1) * q)] ?? 0).toFixed(1);
  process.stdout.write(
    `${transport.padEnd(8)} operator ${(written / seconds).toFixed(0)} writes/s (${conflicts} conflicts); ` +
      `generator p50 ${at(0.5)} ms, p99 ${at(0.99)} ms; ` +
      `apiserver ${(cpuMs / (written + latencies.length)).toFixed(2)} ms/write\n`,
  );
}

for (let r = 0; r < Number(values.rounds); r++) {
  await round("HTTP/1.1");
  await round("HTTP/2");
}
http2.close();
await generator.close();
await http1.close();
