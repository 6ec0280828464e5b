import { defineOperator } from "converge-sdk";
import { HelloWorld } from "./api.ts";
import { helloWorldController } from "./controller.ts";

/** The HelloWorld operator as tools see it: what it defines, what it runs, how it is deployed. */
export default defineOperator({
  name: "hello-world-operator",
  version: "0.1.0",
  description: "Greets spec.name through a ConfigMap.",
  definitions: [HelloWorld],
  controllers: [helloWorldController],
});
