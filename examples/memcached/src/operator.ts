import { defineOperator } from "converge-sdk";
import { Memcached } from "./api.ts";
import { memcachedController } from "./controller.ts";
import { memcachedWebhook } from "./webhook.ts";

/** The Memcached operator as tools see it: what it defines, what it runs, how it is deployed. */
export default defineOperator({
  name: "memcached-operator",
  version: "0.1.0",
  description: "Runs memcached pods sized and versioned by a Memcached resource.",
  definitions: [Memcached],
  controllers: [memcachedController],
  webhooks: [memcachedWebhook],
  // Events of the finalizer are recorded on the Memcached (events.k8s.io is in every operator's rules).
});
