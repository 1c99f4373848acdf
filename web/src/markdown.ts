/**
 * A small markdown renderer for streamed answers: headings, (nested) lists, fenced code, block quotes, rules,
 * paragraphs with hard line breaks, and inline code / bold / italic / http(s) links.
 * Why our own: it builds DOM nodes and sets only `textContent`, so model output never becomes HTML and needs no
 * sanitizer; `marked` produces an HTML string that would need DOMPurify on top. Partial input (mid-stream) renders
 * sensibly: an unclosed code fence shows as code so far.
 *
 * `parseMarkdown` is pure (testable in Node); `renderMarkdown` turns its blocks into DOM.
 */

export type Inline =
  | { type: "text"; text: string }
  | { type: "code"; text: string }
  | { type: "strong"; children: Inline[] }
  | { type: "em"; children: Inline[] }
  | { type: "link"; href: string; children: Inline[] }
  | { type: "br" };

export interface ListItem {
  /** The item's own lines (hard breaks kept) and any nested blocks (sub-lists, code). */
  blocks: Block[];
}

export type Block =
  | { type: "heading"; level: number; inlines: Inline[] }
  | { type: "paragraph"; inlines: Inline[] }
  | { type: "code"; lang: string; text: string }
  | { type: "quote"; blocks: Block[] }
  | { type: "list"; ordered: boolean; start: number; items: ListItem[] }
  | { type: "rule" };

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+.#-]*)\s*$/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;
const QUOTE = /^ {0,3}> ?(.*)$/;
const LIST_ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;

function indentOf(line: string): number {
  return line.length - line.trimStart().length;
}

/** Parses block structure; the input is the full (possibly partial) answer text. */
export function parseMarkdown(source: string): Block[] {
  return parseLines(source.replace(/\r\n?/g, "\n").split("\n"));
}

function parseLines(lines: string[]): Block[] {
  const blocks: Block[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === "") {
      i++;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      const body: string[] = [];
      const indent = indentOf(line);
      i++;
      while (i < lines.length && !(lines[i].trim().startsWith(fence[1]) && lines[i].trim().replace(/[`~]/g, "") === "")) {
        body.push(lines[i].slice(Math.min(indent, indentOf(lines[i]))));
        i++;
      }
      i++; // closing fence (or end of a still-streaming block)
      blocks.push({ type: "code", lang: fence[2], text: body.join("\n") });
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      blocks.push({ type: "heading", level: heading[1].length, inlines: parseInline(heading[2]) });
      i++;
      continue;
    }
    if (RULE.test(line)) {
      blocks.push({ type: "rule" });
      i++;
      continue;
    }
    if (QUOTE.test(line)) {
      const inner: string[] = [];
      while (i < lines.length && QUOTE.test(lines[i])) inner.push((QUOTE.exec(lines[i]) as RegExpExecArray)[1]), i++;
      blocks.push({ type: "quote", blocks: parseLines(inner) });
      continue;
    }
    if (LIST_ITEM.test(line)) {
      const end = listEnd(lines, i, LIST_ITEM.exec(line) as RegExpExecArray);
      blocks.push(parseList(lines.slice(i, end)));
      i = end;
      continue;
    }
    const para: string[] = [line.trim()];
    i++;
    while (i < lines.length && lines[i].trim() !== "" && !startsBlock(lines[i])) para.push(lines[i].trim()), i++;
    blocks.push({ type: "paragraph", inlines: joinLines(para) });
  }
  return blocks;
}

function startsBlock(line: string): boolean {
  return FENCE.test(line) || HEADING.test(line) || QUOTE.test(line) || LIST_ITEM.test(line) || RULE.test(line);
}

/** A list runs until another block starts at its own indent: a blank line then unindented text, a heading,
 * fence or quote at column 0, or an item of the other kind (bullet vs number) at the list's indent. */
function listEnd(lines: string[], start: number, first: RegExpExecArray): number {
  const baseIndent = first[1].length;
  const ordered = /\d/.test(first[2]);
  let i = start + 1;
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === "") {
      const next = lines[i + 1];
      if (next === undefined || (indentOf(next) <= baseIndent && !LIST_ITEM.test(next))) return i;
      i++;
      continue;
    }
    const item = LIST_ITEM.exec(line);
    if (item && item[1].length <= baseIndent && /\d/.test(item[2]) !== ordered) return i;
    if (!item && indentOf(line) <= baseIndent && startsBlock(line)) return i;
    i++;
  }
  return i;
}

function parseList(lines: string[]): Block {
  const first = LIST_ITEM.exec(lines[0]) as RegExpExecArray;
  const baseIndent = first[1].length;
  const ordered = /\d/.test(first[2]);
  const items: { head: string; rest: string[] }[] = [];
  for (const line of lines) {
    const m = LIST_ITEM.exec(line);
    if (m && m[1].length <= baseIndent && /\d/.test(m[2]) === ordered) items.push({ head: m[3], rest: [] });
    else if (items.length > 0) items[items.length - 1].rest.push(line);
  }
  return {
    type: "list",
    ordered,
    start: ordered ? parseInt(first[2], 10) : 1,
    items: items.map(({ head, rest }) => {
      // Continuation lines are de-indented so nested lists and fences parse as blocks of their own.
      const minIndent = Math.min(...rest.filter((l) => l.trim() !== "").map(indentOf), Infinity);
      const body = rest.map((l) => l.slice(Number.isFinite(minIndent) ? Math.min(minIndent, indentOf(l)) : 0));
      const own: string[] = [head];
      let k = 0;
      while (k < body.length && body[k].trim() !== "" && !startsBlock(body[k])) own.push(body[k].trim()), k++;
      return { blocks: [{ type: "paragraph", inlines: joinLines(own) } as Block, ...parseLines(body.slice(k))] };
    }),
  };
}

/** Consecutive lines keep their line breaks (answers use single newlines deliberately). */
function joinLines(lines: string[]): Inline[] {
  const out: Inline[] = [];
  lines.forEach((l, idx) => {
    if (idx > 0) out.push({ type: "br" });
    out.push(...parseInline(l));
  });
  return out;
}

const SAFE_URL = /^https?:\/\/[^\s]+$/i;

/** Inline spans: `code`, **strong**, *em* / _em_, [text](http(s) url). Anything unmatched stays literal text. */
export function parseInline(text: string): Inline[] {
  const out: Inline[] = [];
  let plain = "";
  const flush = (): void => {
    if (plain) out.push({ type: "text", text: plain });
    plain = "";
  };
  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    let m: RegExpExecArray | null;
    if ((m = /^(`+)([\s\S]*?[^`])\1(?!`)/.exec(rest))) {
      flush();
      out.push({ type: "code", text: m[2].replace(/^ (.*) $/, "$1") });
    } else if ((m = /^(\*\*|__)(?=\S)([\s\S]*?\S)\1/.exec(rest))) {
      flush();
      out.push({ type: "strong", children: parseInline(m[2]) });
    } else if ((m = /^(\*|_)(?=[^\s*_])([\s\S]*?[^\s*_])\1(?![\w*])/.exec(rest)) && (m[1] === "*" || !/\w/.test(text[i - 1] ?? ""))) {
      flush();
      out.push({ type: "em", children: parseInline(m[2]) });
    } else if ((m = /^\[([^\]]+)\]\(([^()\s]+)\)/.exec(rest)) && SAFE_URL.test(m[2])) {
      flush();
      out.push({ type: "link", href: m[2], children: parseInline(m[1]) });
    } else {
      plain += text[i];
      i++;
      continue;
    }
    i += m[0].length;
  }
  flush();
  return out;
}

/** Renders markdown into `target`, replacing its children. Only text nodes carry model output. */
export function renderMarkdown(target: HTMLElement, source: string): void {
  const doc = target.ownerDocument;
  target.replaceChildren(...parseMarkdown(source).map((b) => renderBlock(doc, b)));
}

function renderBlock(doc: Document, block: Block): Node {
  switch (block.type) {
    case "heading": {
      const h = doc.createElement(`h${Math.min(block.level + 1, 6)}`); // h1 is the page's own title
      appendInlines(doc, h, block.inlines);
      return h;
    }
    case "paragraph": {
      const p = doc.createElement("p");
      appendInlines(doc, p, block.inlines);
      return p;
    }
    case "code": {
      const pre = doc.createElement("pre");
      const code = doc.createElement("code");
      if (block.lang) code.dataset.lang = block.lang;
      code.textContent = block.text;
      pre.append(code);
      return pre;
    }
    case "quote": {
      const q = doc.createElement("blockquote");
      q.append(...block.blocks.map((b) => renderBlock(doc, b)));
      return q;
    }
    case "list": {
      const list = doc.createElement(block.ordered ? "ol" : "ul");
      if (block.ordered && block.start !== 1) list.setAttribute("start", String(block.start));
      for (const item of block.items) {
        const li = doc.createElement("li");
        item.blocks.forEach((b, idx) => {
          // A tight list item's first paragraph renders inline, like most markdown renderers do.
          if (idx === 0 && b.type === "paragraph") appendInlines(doc, li, b.inlines);
          else li.append(renderBlock(doc, b));
        });
        list.append(li);
      }
      return list;
    }
    case "rule":
      return doc.createElement("hr");
  }
}

function appendInlines(doc: Document, parent: HTMLElement, inlines: Inline[]): void {
  for (const inline of inlines) {
    switch (inline.type) {
      case "text":
        parent.append(doc.createTextNode(inline.text));
        break;
      case "br":
        parent.append(doc.createElement("br"));
        break;
      case "code": {
        const c = doc.createElement("code");
        c.textContent = inline.text;
        parent.append(c);
        break;
      }
      case "strong":
      case "em": {
        const el = doc.createElement(inline.type);
        appendInlines(doc, el, inline.children);
        parent.append(el);
        break;
      }
      case "link": {
        const a = doc.createElement("a");
        a.href = inline.href;
        a.rel = "noopener noreferrer nofollow";
        a.target = "_blank";
        appendInlines(doc, a, inline.children);
        parent.append(a);
        break;
      }
    }
  }
}
