import { defineOperator } from "converge-sdk";
import { MySQL } from "./api.ts";
import { mysqlController } from "./controller.ts";
import { dataController } from "./data.ts";

/** The MySQL operator as tools see it: what it defines, what it runs, how it is deployed. */
export default defineOperator({
  name: "mysql-operator",
  version: "0.1.0",
  description: "Runs MySQL servers with generated credentials, persistent data and scheduled backups.",
  definitions: [MySQL],
  controllers: [mysqlController, dataController],
});
