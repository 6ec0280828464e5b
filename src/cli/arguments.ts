/** Parsers of option values: a bad value is refused by commander with the option's name and this message. */
import { InvalidArgumentError } from "commander";

export function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("expected a positive number of seconds");
  return n;
}

export function milliseconds(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected a whole number of milliseconds");
  return n;
}

/** A TCP port, or any count that fits one (kwok nodes). */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new InvalidArgumentError("expected a whole number from 1 to 65535");
  }
  return n;
}
