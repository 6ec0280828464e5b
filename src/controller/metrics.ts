/**
 * Metrics of an operator's own, next to the runtime's. Each manager has its own prom-client Registry (several
 * managers in one process must not collide), so a controller asks for its metric in the registry of the manager
 * running it: `metricCounter(ctx.metrics, {...})` makes it once per registry and returns the same one afterwards.
 */
import { Counter, type CounterConfiguration, Gauge, type GaugeConfiguration, Registry } from "prom-client";

/** The registry of a controller that no manager runs (unit tests): metrics go nowhere in particular. */
export const detachedRegistry = new Registry();

/** A Counter named `config.name` in `registry`, made on first use. */
export function metricCounter<L extends string>(
  registry: Registry,
  config: Omit<CounterConfiguration<L>, "registers">,
): Counter<L> {
  const existing = registry.getSingleMetric(config.name);
  if (existing) {
    if (!(existing instanceof Counter)) throw new Error(`metric ${config.name} exists and is not a counter`);
    return existing as Counter<L>;
  }
  return new Counter({ ...config, registers: [registry] });
}

/** A Gauge named `config.name` in `registry`, made on first use. */
export function metricGauge<L extends string>(
  registry: Registry,
  config: Omit<GaugeConfiguration<L>, "registers">,
): Gauge<L> {
  const existing = registry.getSingleMetric(config.name);
  if (existing) {
    if (!(existing instanceof Gauge)) throw new Error(`metric ${config.name} exists and is not a gauge`);
    return existing as Gauge<L>;
  }
  return new Gauge({ ...config, registers: [registry] });
}
