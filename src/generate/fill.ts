/**
 * Filling in text templates that are files of their own (the chart's, under chart/). Their placeholders are in
 * double square brackets, which neither YAML nor Helm's `{{ }}` give a meaning to:
 *
 * - `[[key]]` within a line: the value, a string;
 * - `[[key]]` alone on its line (indentation aside): the value as whole lines, as it is (a newline added when it
 *   has none at its end); an empty value leaves no line;
 * - `[[#key]]` and `[[/key]]` alone on their lines: the lines between them are kept when the value is `true` or a
 *   string that is not empty, and dropped otherwise; the marker lines themselves are always dropped.
 *
 * A placeholder without a value, or a section left open, is an error naming the template: a typo never reaches a
 * generated file. Values are inserted once; what they contain is not read for placeholders.
 */

export type TemplateValues = Readonly<Record<string, string | boolean>>;

const standalone = /^[ \t]*\[\[([#/]?)(\w+)\]\][ \t]*$/;
const inline = /\[\[([#/]?)(\w+)\]\]/g;

export function fill(template: string, values: TemplateValues, name = "the template"): string {
  const value = (key: string): string | boolean => {
    const v = values[key];
    if (v === undefined) throw new Error(`${name}: no value for [[${key}]]`);
    return v;
  };
  const text = (key: string): string => {
    const v = value(key);
    if (typeof v !== "string") throw new Error(`${name}: [[${key}]] is a section's flag, not text`);
    return v;
  };
  const sections: Array<{ key: string; keep: boolean }> = [];
  let out = "";
  for (const chunk of template.match(/[^\n]*\n|[^\n]+$/g) ?? []) {
    const line = chunk.endsWith("\n") ? chunk.slice(0, -1) : chunk;
    const keeping = sections.every((s) => s.keep);
    const marker = standalone.exec(line);
    if (marker) {
      const [, sigil, key = ""] = marker;
      if (sigil === "#") {
        const v = value(key);
        sections.push({ key, keep: v === true || (typeof v === "string" && v !== "") });
      } else if (sigil === "/") {
        const open = sections.pop();
        if (open?.key !== key) throw new Error(`${name}: [[/${key}]] closes ${open ? `[[#${open.key}]]` : "nothing"}`);
      } else if (keeping) {
        const v = text(key);
        out += v === "" || v.endsWith("\n") ? v : `${v}\n`;
      }
      continue;
    }
    if (!keeping) continue;
    out += chunk.replace(inline, (_all, sigil: string, key: string) => {
      if (sigil) throw new Error(`${name}: [[${sigil}${key}]] must be alone on its line`);
      return text(key);
    });
  }
  const open = sections.at(-1);
  if (open) throw new Error(`${name}: [[#${open.key}]] is not closed`);
  return out;
}
