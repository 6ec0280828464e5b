/** Credentials other than the admin certificate: bearer tokens, token files and exec plugins, and RBAC denials. */
import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { stringify } from "yaml";
import { Client, ForbiddenError, isForbidden, UnauthorizedError } from "../../src/client/index.ts";
import { testPlane } from "../../src/testing/index.ts";
import { type authenticationv1, corev1, rbacv1 } from "../../src/types/index.ts";

const plane = await testPlane();
const admin = await Client.connect({ kubeconfig: plane.kubeconfig });
test.after(() => admin.close());

function kubeconfig(user: Record<string, unknown>): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: "c",
        cluster: {
          server: plane.server,
          "certificate-authority-data": Buffer.from(plane.credentials.caCert ?? "").toString("base64"),
        },
      },
    ],
    users: [{ name: "u", user }],
    contexts: [{ name: "ctx", context: { cluster: "c", user: "u" } }],
    "current-context": "ctx",
  });
}

test("a service-account token, a token file and an exec plugin authenticate; RBAC denials are ForbiddenError", async (t) => {
  const namespace = await plane.namespace(t);
  await admin.create(corev1.ServiceAccount, { metadata: { name: "reader", namespace } });
  await admin.create(rbacv1.RoleBinding, {
    metadata: { name: "reader-view", namespace },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "view" },
    subjects: [{ kind: "ServiceAccount", name: "reader", namespace }],
  });
  await admin.create(corev1.ConfigMap, { metadata: { name: "visible", namespace }, data: { a: "1" } });
  const request = (await admin.transport.json<authenticationv1.TokenRequest>({
    method: "POST",
    path: `/api/v1/namespaces/${namespace}/serviceaccounts/reader/token`,
    body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 600 } },
  })) as authenticationv1.TokenRequest;
  const token = request.status?.token as string;
  assert.ok(token);

  const dir = await mkdtemp(join(tmpdir(), "converge-auth-"));
  await writeFile(join(dir, "token"), `${token}\n`);
  const credential = JSON.stringify({
    apiVersion: "client.authentication.k8s.io/v1",
    kind: "ExecCredential",
    status: { token },
  });
  await writeFile(join(dir, "plugin.sh"), `#!/bin/sh\necho '${credential}'\n`, { mode: 0o755 });
  const configs = {
    token: kubeconfig({ token }),
    tokenFile: kubeconfig({ tokenFile: join(dir, "token") }),
    exec: kubeconfig({
      exec: {
        apiVersion: "client.authentication.k8s.io/v1",
        command: join(dir, "plugin.sh"),
        interactiveMode: "Never",
      },
    }),
  };
  for (const [how, yaml] of Object.entries(configs)) {
    const path = join(dir, `${how}.kubeconfig`);
    await writeFile(path, yaml);
    const client = await Client.connect({ kubeconfig: path });
    try {
      const cm = await client.get(corev1.ConfigMap, { namespace, name: "visible" });
      assert.equal(cm.data?.a, "1", how);
      await assert.rejects(
        client.create(corev1.ConfigMap, { metadata: { name: "nope", namespace } }),
        (err: unknown) => {
          assert.ok(err instanceof ForbiddenError && isForbidden(err), how);
          assert.match(err.message, /system:serviceaccount:.*:reader.*cannot create resource "configmaps"/);
          return true;
        },
      );
    } finally {
      await client.close();
    }
  }

  const badPath = join(dir, "bad.kubeconfig");
  await writeFile(badPath, kubeconfig({ token: "not-a-token" }));
  const bad = await Client.connect({ kubeconfig: badPath });
  await assert.rejects(bad.get(corev1.ConfigMap, { namespace, name: "visible" }), UnauthorizedError);
  await bad.close();
});
