/**
 * The detached process behind `converge cluster up`: it owns one plane's components (they die with it, see
 * process.ts), reports progress and readiness to the CLI over IPC, and stops the plane on SIGTERM/SIGINT.
 * Run as `node supervisor.ts <options-json>`; not a public entry point.
 */
import { ControlPlane, type ControlPlaneOptions } from "./control-plane.ts";
import { writePlaneState } from "./state.ts";

export type SupervisorMessage =
  | { type: "log"; line: string }
  | { type: "ready"; kubeconfig: string; server: string; seconds: number }
  | { type: "error"; message: string };

function send(message: SupervisorMessage): void {
  if (process.connected) process.send?.(message);
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? "{}") as ControlPlaneOptions;
  const started = Date.now();
  let plane: ControlPlane | undefined;
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    // The CLI's `down` decides about the data directory; the supervisor only stops processes.
    await plane?.stop({ keepDir: true });
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop());
  process.on("SIGINT", () => void stop());
  // The CLI disconnects once the plane is ready; the supervisor must outlive it.
  process.on("disconnect", () => {});
  try {
    plane = await ControlPlane.start({
      ...options,
      log: (line) => {
        process.stdout.write(`${line}\n`);
        send({ type: "log", line });
      },
    });
  } catch (err) {
    send({ type: "error", message: (err as Error).message });
    process.stdout.write(`${(err as Error).stack}\n`);
    process.exit(1);
  }
  await writePlaneState(plane.dir, { ...plane.state(), supervisorPid: process.pid });
  send({
    type: "ready",
    kubeconfig: plane.kubeconfigPath,
    server: plane.server,
    seconds: (Date.now() - started) / 1000,
  });
  if (stopping) return;
  // Components keep the event loop alive; this keeps the supervisor up even if every component has exited,
  // so that `status` can report them stopped and `down` finds a consistent state.
  setInterval(() => {}, 1 << 30);
}

void main();
