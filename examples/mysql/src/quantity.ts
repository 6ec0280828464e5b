/** Storage quantities as numbers, for comparing sizes that the apiserver may have written another way. */

const suffixes: Record<string, number> = {
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** Bytes of a storage quantity (`1Gi`, `1536Mi`, `500M`), to compare sizes the apiserver may have rewritten. */
export function bytesOf(quantity: string): number | undefined {
  const m = /^([0-9.]+)([kMGTPE]i?|Ki)?$/.exec(quantity);
  const factor = suffixes[m?.[2] ?? ""];
  return m && factor !== undefined ? Number(m[1]) * factor : undefined;
}
