/**
 * The TypeScript emitter that the code generators share (`scripts/generate-types.ts`, the built-in types from the
 * apiserver's OpenAPI; `converge import`, TypeBox definitions from a CRD): names, literals and property keys, doc
 * comments, type expressions, and a layout engine that breaks code as Biome (and Prettier) do, so that what they
 * write is already formatted. Everything here is deterministic: the same input gives the same bytes.
 */

/** The line width of generated code, Biome's in this repository. */
export const lineWidth = 120;

// --- names and literals ---------------------------------------------------------------------------------------

/** Code-unit order: the same on every machine and locale. */
export const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** A value as JSON with sorted keys: equal for equal values whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort((a, b) => compare(a[0], b[0])))
      : v,
  );
}

export const isIdentifier = (s: string): boolean => /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(s);

/** A string literal in the quotes that need fewer escapes, double when even (Biome's and Prettier's choice). */
export function stringLiteral(s: string): string {
  const doubles = s.split('"').length - 1;
  const singles = s.split("'").length - 1;
  const q = doubles > singles ? "'" : '"';
  let out = q;
  for (const ch of s) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === q || ch === "\\") out += `\\${ch}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\b") out += "\\b";
    else if (ch === "\f") out += "\\f";
    else if (code < 0x20 || code === 0x2028 || code === 0x2029) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else out += ch;
  }
  return out + q;
}

/** A JSON scalar (or any JSON value) as a TypeScript literal: strings as `stringLiteral` writes them. */
export function literal(value: unknown): string {
  return typeof value === "string" ? stringLiteral(value) : JSON.stringify(value);
}

/** A property name as written in an object literal or an interface: quoted only when it is not an identifier. */
export function propertyKey(key: string): string {
  return isIdentifier(key) ? key : stringLiteral(key);
}

// --- comments -------------------------------------------------------------------------------------------------

export interface DocCommentOptions {
  /** Put before every line. */
  indent?: string;
  /** Lines are word-wrapped to this width (each line keeps its leading blanks); by default they are kept whole. */
  width?: number;
  /** Longer descriptions are cut at a paragraph (or sentence), keeping a "More info" link. */
  maxLength?: number;
}

/**
 * A description as the lines of a JSDoc comment (none when it is empty): one line when it is one line and fits,
 * `*\/` escaped.
 */
export function docComment(description: string | undefined, options: DocCommentOptions = {}): string[] {
  const { indent = "", width = Number.POSITIVE_INFINITY, maxLength = Number.POSITIVE_INFINITY } = options;
  let text = (description ?? "").replace(/\r\n?/g, "\n").trim();
  if (!text) return [];
  if (text.length > maxLength) text = shorten(text, maxLength);
  text = text.replaceAll("*/", "*\\/");
  const lines = text.split("\n").map((l) => l.trimEnd());
  if (lines.length === 1 && `${indent}/** ${text} */`.length <= width) return [`${indent}/** ${text} */`];
  const out = [`${indent}/**`];
  for (const line of lines) {
    if (!line) out.push(`${indent} *`);
    else if (width === Number.POSITIVE_INFINITY) out.push(`${indent} * ${line}`);
    else {
      const lead = /^\s*/.exec(line)?.[0] ?? "";
      out.push(...wrapWords(line.slice(lead.length), `${indent} * ${lead}`, `${indent} * ${lead}`, width));
    }
  }
  out.push(`${indent} */`);
  return out;
}

/** Cuts a very long description at the last paragraph (or else sentence) that fits, keeping a "More info" link. */
function shorten(text: string, maxLength: number): string {
  const budget = maxLength - 200;
  let cut = text.lastIndexOf("\n\n", budget);
  if (cut < budget / 2) cut = text.lastIndexOf(". ", budget) + 1;
  if (cut <= 0) cut = text.lastIndexOf(" ", budget);
  let short = text.slice(0, cut).trimEnd();
  if ((short.match(/```/g) ?? []).length % 2 === 1) short += "\n```"; // close a code block cut in the middle
  short += " […]";
  const more = /More info: \S+/.exec(text.slice(cut))?.[0];
  if (more) short += `\n\n${more}`;
  return short;
}

/** Word-wraps one line of text after `first` (then `rest`); words longer than the width (URLs) stay whole. */
export function wrapWords(text: string, first: string, rest: string, width = lineWidth): string[] {
  const out: string[] = [];
  let line = first;
  let empty = true;
  for (const word of text.split(/ +/)) {
    if (!empty && line.length + 1 + word.length > width) {
      out.push(line);
      line = rest + word;
    } else {
      line += empty ? word : ` ${word}`;
    }
    empty = false;
  }
  out.push(line.trimEnd());
  return out;
}

// --- layout, as Biome and Prettier do it ----------------------------------------------------------------------

interface Group {
  kind: "group";
  contents: Doc;
  break: boolean;
  /** A conditional group: tried in this order, the last one fully broken. */
  states?: Doc[];
}
interface Indent {
  kind: "indent";
  contents: Doc;
}
interface Line {
  kind: "line";
  /** Nothing when flat (a line that is a space when flat otherwise). */
  soft: boolean;
  /** Always a new line (after a comment). */
  hard?: boolean;
}
interface IfBreak {
  kind: "ifBreak";
  broken: Doc;
  /** What it is when the enclosing group is not broken (nothing by default). */
  flat?: Doc;
}
interface BreakParent {
  kind: "breakParent";
}
/** A document to lay out: text, a sequence, or a layout instruction. */
export type Doc = string | Doc[] | Group | Indent | Line | IfBreak | BreakParent;

export const line: Line = { kind: "line", soft: false };
export const softline: Line = { kind: "line", soft: true };
export const trailingComma: IfBreak = { kind: "ifBreak", broken: "," };
/** `broken` in a broken group, else `flat`. */
export const ifBreak = (broken: Doc, flat?: Doc): IfBreak => ({
  kind: "ifBreak",
  broken,
  ...(flat === undefined ? {} : { flat }),
});
export const breakParent: BreakParent = { kind: "breakParent" };
export const hardline: Doc = [{ kind: "line", soft: false, hard: true }, breakParent];
export const indent = (contents: Doc): Indent => ({ kind: "indent", contents });

/** Whether a document contains a forced break (which also breaks every enclosing group). */
export function willBreak(doc: Doc): boolean {
  if (typeof doc === "string") return false;
  if (Array.isArray(doc)) return doc.some(willBreak);
  switch (doc.kind) {
    case "group":
      return doc.break || willBreak(doc.contents);
    case "indent":
      return willBreak(doc.contents);
    case "breakParent":
      return true;
    default:
      return false;
  }
}

export function group(contents: Doc, shouldBreak = false): Group {
  return { kind: "group", contents, break: shouldBreak || willBreak(contents) };
}

export function conditionalGroup(states: Doc[]): Group {
  return { kind: "group", contents: states[0] ?? "", break: false, states };
}

export const join = (separator: Doc, docs: Doc[]): Doc[] => docs.flatMap((d, i) => (i === 0 ? [d] : [separator, d]));

export interface Prop {
  key: string;
  value: Doc;
  /** The value is a string literal, which moves to the next line rather than overflow after a long key. */
  isString: boolean;
  /** The description as a JSDoc comment above it, for readers and editors. */
  doc?: string | undefined;
}

export function prop(key: string, value: Doc, doc?: string): Prop {
  return { key, value, isString: typeof value === "string" && /^["']/.test(value), doc };
}

function printProp(p: Prop): Doc {
  const key = propertyKey(p.key);
  const comment = docComment(p.doc);
  if (comment.length > 0) return [join(hardline, comment), hardline, printProp({ ...p, doc: undefined })];
  // A key shorter than the indentation plus three gains nothing from a break after it.
  if (p.isString && key.length >= 5) return group([key, ":", group(indent([line, p.value]))]);
  return [key, ": ", p.value];
}

/** `{ a: 1 }`, broken one property a line when it does not fit. */
export function object(props: Prop[]): Doc {
  if (props.length === 0) return "{}";
  return group(["{", indent([line, join([",", line], props.map(printProp))]), trailingComma, line, "}"]);
}

export function array(items: Doc[], shouldBreak = false): Doc {
  if (items.length === 0) return "[]";
  return group(["[", indent([softline, join([",", line], items)]), trailingComma, softline, "]"], shouldBreak);
}

/** Object and array literals may hug the parentheses of a call they end. */
function hugKind(doc: Doc): "{" | "[" | undefined {
  if (typeof doc !== "object" || Array.isArray(doc) || doc.kind !== "group" || !Array.isArray(doc.contents)) {
    return undefined;
  }
  const open = doc.contents[0];
  return open === "{" || open === "[" ? open : undefined;
}

/** Whether a document is an object or array literal, empty or not. */
function literalKind(doc: Doc): "{" | "[" | undefined {
  if (doc === "{}") return "{";
  if (doc === "[]") return "[";
  return hugKind(doc);
}

/** `callee(args)`, laid out as Prettier's printCallArguments does for these argument kinds. */
export function call(callee: string, args: Doc[]): Doc {
  if (args.length === 0) return `${callee}()`;
  const allBroken = (): Doc =>
    group([callee, "(", indent([line, join([",", line], args)]), trailingComma, line, ")"], true);
  const last = args[args.length - 1] as Doc;
  const penultimate = args.length > 1 ? args[args.length - 2] : undefined;
  // A last object or array literal hugs the parentheses, unless the argument before it is of the same kind.
  const groupLast =
    hugKind(last) !== undefined && (penultimate === undefined || literalKind(penultimate) !== hugKind(last));
  if (groupLast) {
    const init = args.slice(0, -1);
    if (init.some(willBreak)) return allBroken();
    return [
      args.some(willBreak) ? breakParent : "",
      conditionalGroup([
        [callee, "(", join(", ", args), ")"],
        [callee, "(", join(", ", [...init, group(last, true)]), ")"],
        allBroken(),
      ]),
    ];
  }
  return group([callee, "(", indent([softline, join([",", line], args)]), trailingComma, softline, ")"]);
}

/** `export const X = <value>;`. */
export function statement(head: string, value: Doc): Doc {
  return group([head, value, ";"]);
}

/** Columns a string takes: wide East Asian characters and emoji take two, combining marks none. */
export function width(s: string): number {
  let n = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (c < 0x300) n += 1;
    else if ((c >= 0x300 && c <= 0x36f) || (c >= 0x200b && c <= 0x200f) || c === 0xfe0f) n += 0;
    else if (
      (c >= 0x1100 && c <= 0x115f) ||
      (c >= 0x2e80 && c <= 0xa4cf) ||
      (c >= 0xac00 && c <= 0xd7a3) ||
      (c >= 0xf900 && c <= 0xfaff) ||
      (c >= 0xfe30 && c <= 0xfe4f) ||
      (c >= 0xff00 && c <= 0xff60) ||
      (c >= 0xffe0 && c <= 0xffe6) ||
      (c >= 0x1f300 && c <= 0x1faff) ||
      (c >= 0x20000 && c <= 0x3fffd)
    )
      n += 2;
    else n += 1;
  }
  return n;
}

type Mode = "flat" | "break";
interface Command {
  indent: number;
  mode: Mode;
  doc: Doc;
}

/** Whether `next`, then what follows it up to the first line break, fits in `room` columns. */
function fits(next: Command, rest: Command[], room: number): boolean {
  let restIndex = rest.length;
  const commands: Command[] = [next];
  let left = room;
  while (left >= 0) {
    const c = commands.pop() ?? (restIndex > 0 ? rest[--restIndex] : undefined);
    if (!c) return true;
    const { mode, doc } = c;
    if (typeof doc === "string") left -= width(doc);
    else if (Array.isArray(doc)) for (let i = doc.length - 1; i >= 0; i--) commands.push({ ...c, doc: doc[i] as Doc });
    else if (doc.kind === "indent") commands.push({ ...c, doc: doc.contents });
    else if (doc.kind === "group") {
      const groupMode = doc.break ? "break" : mode;
      const contents = doc.states && groupMode === "break" ? (doc.states.at(-1) as Doc) : doc.contents;
      commands.push({ ...c, mode: groupMode, doc: contents });
    } else if (doc.kind === "ifBreak") {
      const chosen = mode === "break" ? doc.broken : doc.flat;
      if (chosen !== undefined) commands.push({ ...c, doc: chosen });
    } else if (doc.kind === "line") {
      if (mode === "break" || doc.hard) return true;
      if (!doc.soft) left -= 1;
    }
  }
  return false;
}

/** Lays a document out in `lineWidth` columns (Wadler's algorithm as Prettier implements it). */
export function print(doc: Doc): string {
  const out: string[] = [];
  let column = 0;
  const commands: Command[] = [{ indent: 0, mode: "break", doc }];
  for (let c = commands.pop(); c; c = commands.pop()) {
    const { indent: ind, mode, doc: d } = c;
    if (typeof d === "string") {
      out.push(d);
      column += width(d);
    } else if (Array.isArray(d)) for (let i = d.length - 1; i >= 0; i--) commands.push({ ...c, doc: d[i] as Doc });
    else if (d.kind === "indent") commands.push({ indent: ind + 2, mode, doc: d.contents });
    else if (d.kind === "ifBreak") {
      const chosen = mode === "break" ? d.broken : d.flat;
      if (chosen !== undefined) commands.push({ ...c, doc: chosen });
    } else if (d.kind === "line") {
      if (mode === "flat" && !d.hard) {
        if (!d.soft) {
          out.push(" ");
          column += 1;
        }
      } else {
        while (out.length > 0 && / +$/.test(out[out.length - 1] as string)) {
          out[out.length - 1] = (out[out.length - 1] as string).replace(/ +$/, "");
          if (out[out.length - 1] === "") out.pop();
          else break;
        }
        out.push(`\n${" ".repeat(ind)}`);
        column = ind;
      }
    } else if (d.kind === "group") {
      if (mode === "flat") {
        commands.push({ indent: ind, mode: d.break ? "break" : "flat", doc: d.contents });
        continue;
      }
      const flat: Command = { indent: ind, mode: "flat", doc: d.contents };
      const room = lineWidth - column;
      if (!d.break && fits(flat, commands, room)) commands.push(flat);
      else if (d.states) {
        const expanded = d.states.at(-1) as Doc;
        if (d.break) commands.push({ indent: ind, mode: "break", doc: expanded });
        else {
          let chosen: Command = { indent: ind, mode: "break", doc: expanded };
          for (const state of d.states.slice(1, -1)) {
            const attempt: Command = { indent: ind, mode: "flat", doc: state };
            if (fits(attempt, commands, room)) {
              chosen = attempt;
              break;
            }
          }
          commands.push(chosen);
        }
      } else commands.push({ indent: ind, mode: "break", doc: d.contents });
    }
  }
  return out.join("");
}

// --- type expressions -----------------------------------------------------------------------------------------

/** A TypeScript type, as the generators build them. */
export type TypeExpr =
  | { kind: "name"; text: string }
  | { kind: "array"; of: TypeExpr }
  | { kind: "record"; of: TypeExpr }
  | { kind: "union"; of: TypeExpr[] };

/** A type by its name (or any text: `string`, `"Always"`, `corev1.Pod`). */
export function typeName(text: string): TypeExpr {
  return { kind: "name", text };
}

/** The union of types, flattened and without repeats; a single type is itself. */
export function union(members: TypeExpr[]): TypeExpr {
  const flatMembers = members.flatMap((m) => (m.kind === "union" ? m.of : [m]));
  const unique = new Map(flatMembers.map((m) => [typeText(m), m] as const));
  return unique.size === 1 ? (flatMembers[0] as TypeExpr) : { kind: "union", of: [...unique.values()] };
}

/** A type on one line. */
export function typeText(t: TypeExpr): string {
  switch (t.kind) {
    case "name":
      return t.text;
    case "array":
      return t.of.kind === "union" ? `(${typeText(t.of)})[]` : `${typeText(t.of)}[]`;
    case "record":
      return `Record<string, ${typeText(t.of)}>`;
    case "union":
      return t.of.map(typeText).join(" | ");
  }
}

/**
 * `key: type;` in an interface, broken the way Biome breaks a type that does not fit: a union one member a line,
 * the arguments of a Record one a line, an array of a union around its parentheses.
 */
export function propertySignature(key: string, type: TypeExpr): Doc {
  if (type.kind === "union") return group([key, ":", indent([line, unionMembers(type)]), ";"]);
  return [key, ": ", typeDoc(type), ";"];
}

/** `export type Name = type;`, a union broken one member a line when it does not fit. */
export function typeAliasDeclaration(name: string, type: TypeExpr): Doc {
  if (type.kind !== "union") return `export type ${name} = ${typeText(type)};`;
  return group([`export type ${name} =`, indent([line, unionMembers(type)]), ";"]);
}

/** A type where it may break (a union breaks only in the places that call unionMembers). */
function typeDoc(type: TypeExpr): Doc {
  if (type.kind === "array" && type.of.kind === "union") {
    return group(["(", indent([softline, unionMembers(type.of)]), softline, ")[]"]);
  }
  if (type.kind === "record") {
    const value = type.of.kind === "union" ? group(unionMembers(type.of)) : typeDoc(type.of);
    return group(["Record<", indent([softline, "string,", line, value]), softline, ">"]);
  }
  return typeText(type);
}

/** `A | B`, or broken `| A` and `| B` a line each; the members themselves never break. */
function unionMembers(type: { of: TypeExpr[] }): Doc {
  return [ifBreak("| ", ""), join([line, "| "], type.of.map(typeText))];
}
