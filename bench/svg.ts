/**
 * Small SVG line charts for the report, written by hand (no plotting dependency): memory over time for each
 * workload, and W3 latency over time for each rate, one line per peer and concurrency.
 */
import { type BenchReport, runLabel, type SizeResult } from "./figures.ts";

interface Series {
  name: string;
  points: Array<[number, number]>;
}

interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  logY: boolean;
  series: Series[];
}

const palette = [
  "#1f77b4",
  "#d62728",
  "#2ca02c",
  "#9467bd",
  "#ff7f0e",
  "#17becf",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
];
const panelWidth = 560;
const panelHeight = 260;
const margin = { left: 64, right: 16, top: 28, bottom: 40 };

const escapeXml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Round tick steps: 1, 2 or 5 times a power of ten. */
function ticks(lo: number, hi: number, count = 5): number[] {
  const span = hi - lo || 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step / 1e6; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const fmt = (v: number) => (Math.abs(v) >= 1000 ? v.toFixed(0) : String(Number(v.toPrecision(3))));

function panelSvg(p: Panel, ox: number, oy: number, colors: Map<string, string>): string {
  const w = panelWidth - margin.left - margin.right;
  const h = panelHeight - margin.top - margin.bottom;
  const all = p.series.flatMap((s) => s.points).filter(([, y]) => !p.logY || y > 0);
  const xs = all.map(([x]) => x);
  const ys = all.map(([, y]) => (p.logY ? Math.log10(y) : y));
  const xMax = Math.max(1, ...xs);
  const yLo = p.logY ? Math.floor(Math.min(...ys, 0)) : 0;
  let yHi = p.logY ? Math.ceil(Math.max(...ys, 1)) : Math.max(1, ...ys) * 1.05;
  if (yHi <= yLo) yHi = yLo + 1;
  const sx = (x: number) => ox + margin.left + (x / xMax) * w;
  const sy = (y: number) => oy + margin.top + h - (((p.logY ? Math.log10(y) : y) - yLo) / (yHi - yLo)) * h;
  const parts: string[] = [];
  parts.push(
    `<text x="${ox + margin.left}" y="${oy + 18}" font-size="13" font-weight="bold">${escapeXml(p.title)}</text>`,
  );
  parts.push(
    `<rect x="${ox + margin.left}" y="${oy + margin.top}" width="${w}" height="${h}" fill="none" stroke="#999"/>`,
  );
  for (const t of ticks(0, xMax)) {
    parts.push(
      `<line x1="${sx(t)}" x2="${sx(t)}" y1="${oy + margin.top + h}" y2="${oy + margin.top + h + 4}" stroke="#999"/>`,
    );
    parts.push(
      `<text x="${sx(t)}" y="${oy + margin.top + h + 16}" font-size="10" text-anchor="middle">${fmt(t)}</text>`,
    );
  }
  const yTicks = p.logY
    ? Array.from({ length: yHi - yLo + 1 }, (_, i) => 10 ** (yLo + i))
    : ticks(0, yHi).filter((t) => t <= yHi);
  for (const t of yTicks) {
    const y = sy(t);
    parts.push(`<line x1="${ox + margin.left}" x2="${ox + margin.left + w}" y1="${y}" y2="${y}" stroke="#eee"/>`);
    parts.push(`<text x="${ox + margin.left - 6}" y="${y + 3}" font-size="10" text-anchor="end">${fmt(t)}</text>`);
  }
  parts.push(
    `<text x="${ox + margin.left + w / 2}" y="${oy + panelHeight - 6}" font-size="11" text-anchor="middle">${escapeXml(p.xLabel)}</text>`,
  );
  parts.push(
    `<text transform="translate(${ox + 14},${oy + margin.top + h / 2}) rotate(-90)" font-size="11" text-anchor="middle">${escapeXml(p.yLabel)}</text>`,
  );
  for (const s of p.series) {
    const pts = s.points.filter(([, y]) => !p.logY || y > 0);
    if (pts.length === 0) continue;
    const d = pts.map(([x, y], i) => `${i ? "L" : "M"}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join("");
    parts.push(
      `<path d="${d}" fill="none" stroke="${colors.get(s.name)}" stroke-width="1.5"><title>${escapeXml(s.name)}</title></path>`,
    );
  }
  return parts.join("\n");
}

function chart(title: string, panels: Panel[]): string | undefined {
  const used = panels.filter((p) => p.series.some((s) => s.points.length > 0));
  if (used.length === 0) return undefined;
  const names = [...new Set(used.flatMap((p) => p.series.map((s) => s.name)))];
  const colors = new Map(names.map((n, i) => [n, palette[i % palette.length] as string]));
  // Two columns always, so that the title and the legend have room even above a single panel.
  const columns = 2;
  const rows = Math.ceil(used.length / columns);
  const legendHeight = 20 * Math.ceil(names.length / 4) + 10;
  const width = columns * panelWidth;
  const height = 30 + rows * panelHeight + legendHeight;
  const body = used.map((p, i) =>
    panelSvg(p, (i % columns) * panelWidth, 30 + Math.floor(i / columns) * panelHeight, colors),
  );
  const legend = names.map((n, i) => {
    const x = 10 + (i % 4) * (width / 4);
    const y = 30 + rows * panelHeight + 16 + Math.floor(i / 4) * 20;
    return `<line x1="${x}" x2="${x + 24}" y1="${y - 4}" y2="${y - 4}" stroke="${colors.get(n)}" stroke-width="3"/><text x="${x + 30}" y="${y}" font-size="11">${escapeXml(n)}</text>`;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
    ...body,
    ...legend,
    "</svg>",
    "",
  ].join("\n");
}

function largest(report: BenchReport): SizeResult | undefined {
  return report.sizes.at(-1);
}

/** RSS over time in each workload, for the largest N. */
export function memoryChart(report: BenchReport): string | undefined {
  const size = largest(report);
  if (!size) return undefined;
  const panels = (["w1", "w2", "w3", "w4", "w5"] as const).map(
    (w): Panel => ({
      title: `${w.toUpperCase()}, N = ${size.n}`,
      xLabel: "seconds since the workload started",
      yLabel: "RSS (MB)",
      logY: false,
      series: size.runs.map((r) => ({
        name: runLabel(r),
        points: (r[w]?.rss ?? []).map(([t, b]): [number, number] => [t, b / 2 ** 20]),
      })),
    }),
  );
  return chart(`Operator RSS (process tree, sampled every 200 ms), N = ${size.n}`, panels);
}

/** W3: the slowest update in each second, for each rate, for the largest N (log scale). */
export function latencyChart(report: BenchReport): string | undefined {
  const size = largest(report);
  if (!size) return undefined;
  const rates = size.runs.find((r) => r.w3)?.w3?.steps.map((s) => s.targetRate) ?? [];
  const panels = rates.map(
    (rate): Panel => ({
      title: `${rate} updates/s, N = ${size.n}`,
      xLabel: "seconds since the step started",
      yLabel: "slowest update in the second (ms)",
      logY: true,
      series: size.runs.map((r) => {
        const step = r.w3?.steps.find((s) => s.targetRate === rate);
        const points = (step?.perSecond ?? []).map(([s, , max]): [number, number] => [s + 0.5, max]);
        return { name: runLabel(r), points };
      }),
    }),
  );
  return chart(`W3 event → reconcile-finished latency (update sent → ConfigMap shows it), N = ${size.n}`, panels);
}
