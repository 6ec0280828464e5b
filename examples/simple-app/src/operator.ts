import { defineOperator } from "converge-sdk";
import { SimpleApp } from "./api.ts";
import { simpleAppController } from "./controller.ts";

/** The SimpleApp operator as tools see it: what it defines, what it runs, how it is deployed. */
export default defineOperator({
  name: "simple-app-operator",
  version: "0.1.0",
  description:
    "Runs spec.replicas copies of spec.image through a Deployment, written with on create / update / delete handlers.",
  definitions: [SimpleApp],
  controllers: [simpleAppController()],
});
