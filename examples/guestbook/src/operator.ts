import { defineOperator } from "converge-sdk";
import { Guestbook } from "./api.ts";
import { guestbookController } from "./controller.ts";

/**
 * The Guestbook operator as tools see it: what it defines, what it runs, how it is deployed. Dapr's Component is
 * not among its definitions: that API is Dapr's (its CRD comes with Dapr), the operator only owns Components.
 */
export default defineOperator({
  name: "guestbook-operator",
  version: "0.1.0",
  description: "Runs a guestbook app with a Dapr sidecar and its Dapr state store.",
  definitions: [Guestbook],
  controllers: [guestbookController],
  // A ServiceMonitor for the operator's /metrics (where Prometheus Operator is installed) and a Grafana dashboard.
  monitoring: { serviceMonitor: true, dashboard: true },
});
