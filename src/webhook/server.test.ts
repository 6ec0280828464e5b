import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { Agent, request } from "node:https";
import { after, before, test } from "node:test";
import { connect } from "node:tls";
import { Registry } from "prom-client";
import { defineResource, Type } from "../definition/index.ts";
import { allow, deny, validatingWebhook } from "./admission.ts";
import { SelfSignedCertificates } from "./certs.ts";
import { WebhookServer } from "./server.ts";

const Thing = defineResource({
  group: "unit.converge.dev",
  kind: "Thing",
  versions: { v1: { spec: Type.Object({ size: Type.Integer() }) } },
});

const webhook = validatingWebhook(Thing, {
  validate: async (r) => {
    if (r.object?.spec.size === -1) await new Promise((res) => setTimeout(res, 5_000));
    return (r.object?.spec.size ?? 0) > 0 ? allow() : deny("spec.size must be greater than 0");
  },
});

const registry = new Registry();
const certificates = new SelfSignedCertificates({
  dnsNames: ["localhost"],
  ips: ["127.0.0.1"],
  // Short-lived, so that the rotation test sees several certificates within a few seconds.
  certLifetime: { ms: 1_500 },
  checkIntervalMs: 100,
});
const server = new WebhookServer({
  host: "127.0.0.1",
  port: 0,
  certificates,
  registry,
  maxBodyBytes: 64 * 1024,
  requestTimeoutMs: 1_000,
}).addWebhook(webhook);

before(() => server.start());
after(() => server.stop());

interface Reply {
  status: number;
  body: string;
  serial: string;
}

function post(
  path: string,
  body: string | Buffer,
  options: { agent?: Agent; contentType?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: server.port,
        path,
        method: "POST",
        ca: certificates.current().caBundle,
        agent: options.agent ?? false,
        headers: { "content-type": options.contentType ?? "application/json" },
      },
      (res) => {
        const chunks: Buffer[] = [];
        const peer = (res.socket as import("node:tls").TLSSocket).getPeerX509Certificate();
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString(),
            serial: peer?.serialNumber ?? "",
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const review = (size: number) =>
  JSON.stringify({
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: `u-${size}`,
      kind: { group: "unit.converge.dev", version: "v1", kind: "Thing" },
      resource: { group: "unit.converge.dev", version: "v1", resource: "things" },
      operation: "CREATE",
      userInfo: { username: "alice" },
      object: { apiVersion: "unit.converge.dev/v1", kind: "Thing", spec: { size } },
    },
  });

test("answers an AdmissionReview over TLS 1.2+, and counts it under controller-runtime's metric names", async () => {
  const ok = await post(webhook.path, review(3));
  assert.equal(ok.status, 200);
  assert.deepEqual(JSON.parse(ok.body), {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    response: { uid: "u-3", allowed: true },
  });
  const no = JSON.parse((await post(webhook.path, review(0))).body);
  assert.equal(no.response.allowed, false);
  assert.equal(no.response.status.message, "spec.size must be greater than 0");
  const metrics = await registry.metrics();
  assert.match(
    metrics,
    new RegExp(`controller_runtime_webhook_requests_total\\{webhook="${webhook.path}",code="200"\\} 2`),
  );
  assert.match(metrics, /controller_runtime_webhook_latency_seconds_bucket/);
  assert.match(metrics, /controller_runtime_webhook_requests_in_flight\{webhook="[^"]+"\} 0/);
  // TLS 1.1 and below are refused.
  await assert.rejects(
    new Promise((resolve, reject) => {
      const s = connect({
        host: "127.0.0.1",
        port: server.port,
        maxVersion: "TLSv1.1",
        minVersion: "TLSv1",
        rejectUnauthorized: false,
      });
      s.on("secureConnect", () => resolve(s.end()));
      s.on("error", reject);
    }),
  );
});

test("malformed, oversized and misdirected requests get a clear 4xx, and the server keeps serving", async () => {
  const cases: Array<[string, Promise<Reply>, number, RegExp]> = [
    ["not JSON", post(webhook.path, "{nope"), 400, /body is not JSON/],
    [
      "not a review",
      post(webhook.path, JSON.stringify({ kind: "Pod" })),
      400,
      /bad review: expected apiVersion admission.k8s.io\/v1/,
    ],
    [
      "no request",
      post(webhook.path, JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" })),
      400,
      /request: Required value/,
    ],
    ["unknown path", post("/validate-nothing", review(1)), 404, /no webhook at \/validate-nothing/],
    ["wrong type", post(webhook.path, review(1), { contentType: "text/plain" }), 415, /expected application\/json/],
    ["too big", post(webhook.path, Buffer.alloc(100 * 1024, 32)), 413, /exceeds the limit of 65536/],
  ];
  for (const [what, reply, status, message] of cases) {
    const r = await reply;
    assert.equal(r.status, status, `${what}: ${r.body}`);
    assert.match(r.body, message, what);
  }
  // A conversion review to a server without conversions: there is no such endpoint.
  assert.equal((await post("/convert", "{}")).status, 404);
  // Still serving.
  assert.equal((await post(webhook.path, review(1))).status, 200);
});

test("a slow client is cut off after the request timeout; a slow handler gets a 500; others are served meanwhile", async () => {
  const started = Date.now();
  const slow = new Promise<string>((resolve, reject) => {
    const s = connect({
      host: "127.0.0.1",
      port: server.port,
      ca: certificates.current().caBundle,
      servername: "localhost",
    });
    let text = "";
    s.on("secureConnect", () => {
      // Headers promise a body that never comes.
      s.write(
        `POST ${webhook.path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{`,
      );
    });
    s.on("data", (d: Buffer) => {
      text += d.toString();
    });
    s.on("close", () => resolve(text));
    s.on("error", reject);
  });
  const meanwhile = await post(webhook.path, review(2));
  assert.equal(meanwhile.status, 200);
  const answer = await slow;
  assert.match(answer, /^HTTP\/1.1 408/);
  assert.ok(Date.now() - started < 5_000, "cut off at the request timeout, not Node's default");
  const stuck = await post(webhook.path, review(-1));
  assert.equal(stuck.status, 500);
  assert.match(stuck.body, /did not answer within 1000 ms/);
  assert.equal((await post(webhook.path, review(1))).status, 200);
});

test("the serving certificate rotates during a stream of requests without a failed request", async () => {
  const serials = new Set<string>();
  const keepAlive = new Agent({ keepAlive: true, maxSockets: 2 });
  const deadline = Date.now() + 4_000;
  let sent = 0;
  while (Date.now() < deadline) {
    // Half on kept-alive connections (they stay on the certificate they began with), half on new ones.
    const [a, b] = await Promise.all([
      post(webhook.path, review(1), { agent: keepAlive }),
      post(webhook.path, review(1)),
    ]);
    for (const r of [a, b]) {
      assert.equal(r.status, 200, r.body);
      serials.add(r.serial);
    }
    sent += 2;
  }
  keepAlive.destroy();
  assert.ok(sent > 20, `a stream of requests (${sent})`);
  assert.ok(serials.size >= 2, `certificates seen: ${serials.size}`);
  const current = new X509Certificate(certificates.current().cert);
  assert.ok(current.checkIssued(new X509Certificate(certificates.current().caBundle)), "signed by the same CA");
});
