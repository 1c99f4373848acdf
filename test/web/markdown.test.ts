import { answerFor } from "../../local/bedrock/answer";
import { parseInline, parseMarkdown, type Block } from "../../web/src/markdown";

describe("parseMarkdown", () => {
  it("keeps single newlines inside a paragraph as hard breaks", () => {
    expect(parseMarkdown("line one\nline two\n\nnext paragraph")).toEqual([
      { type: "paragraph", inlines: [{ type: "text", text: "line one" }, { type: "br" }, { type: "text", text: "line two" }] },
      { type: "paragraph", inlines: [{ type: "text", text: "next paragraph" }] },
    ]);
  });

  it("keeps a fenced code block verbatim, quotes and backslashes included", () => {
    const code = 'const s = "a \\"b\\"";\n  console.log(s.split("\\n"));';
    expect(parseMarkdown("```ts\n" + code + "\n```\nafter")).toEqual([
      { type: "code", lang: "ts", text: code },
      { type: "paragraph", inlines: [{ type: "text", text: "after" }] },
    ]);
  });

  it("shows an unclosed fence (mid-stream) as code so far", () => {
    expect(parseMarkdown("```py\nprint(1)\npri")).toEqual([{ type: "code", lang: "py", text: "print(1)\npri" }]);
  });

  it("parses headings, nested lists, an ordered list after a blank line, and quotes", () => {
    const blocks = parseMarkdown("## Title\n\n- a\n- b:\n  - b1\n  - b2\n- c\n\n1. one\n2. two\n\n> bye");
    expect(blocks.map((b) => b.type)).toEqual(["heading", "list", "list", "quote"]);
    const bullets = blocks[1] as Extract<Block, { type: "list" }>;
    expect(bullets.ordered).toBe(false);
    expect(bullets.items).toHaveLength(3);
    const nested = bullets.items[1].blocks[1] as Extract<Block, { type: "list" }>;
    expect(nested.type).toBe("list");
    expect(nested.items).toHaveLength(2);
    const numbered = blocks[2] as Extract<Block, { type: "list" }>;
    expect(numbered.ordered).toBe(true);
    expect(numbered.items).toHaveLength(2);
  });

  it("parses the local stand-in's answers into the expected block sequence", () => {
    const text = answerFor("Explain streaming", "anthropic.claude-3-5-haiku-20241022-v1:0").join("");
    expect(parseMarkdown(text).map((b) => b.type)).toEqual(["heading", "paragraph", "list", "list", "code", "quote"]);
  });
});

describe("parseInline", () => {
  it("recognises code, strong, em and safe links; leaves everything else literal", () => {
    expect(parseInline("a `x*y` **b** *c* [d](https://e.test/f)")).toEqual([
      { type: "text", text: "a " },
      { type: "code", text: "x*y" },
      { type: "text", text: " " },
      { type: "strong", children: [{ type: "text", text: "b" }] },
      { type: "text", text: " " },
      { type: "em", children: [{ type: "text", text: "c" }] },
      { type: "text", text: " " },
      { type: "link", href: "https://e.test/f", children: [{ type: "text", text: "d" }] },
    ]);
  });

  it("never turns a javascript: link or HTML into anything but text", () => {
    expect(parseInline("[x](javascript:alert(1)) <img src=x onerror=alert(1)>")).toEqual([
      { type: "text", text: "[x](javascript:alert(1)) <img src=x onerror=alert(1)>" },
    ]);
  });

  it("does not treat snake_case or a lone asterisk as emphasis", () => {
    expect(parseInline("snake_case_name and 2 * 3")).toEqual([{ type: "text", text: "snake_case_name and 2 * 3" }]);
  });
});
