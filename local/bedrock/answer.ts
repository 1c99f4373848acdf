/**
 * The Bedrock stand-in's deterministic "model": the same prompt and model id always give the same tokens, so tests
 * can compare what a subscriber received with what was generated. The text deliberately carries what breaks naive
 * pipelines: markdown (headings, lists, a fenced code block), newlines, quotes, backslashes, unicode and emoji.
 */

/** Markers a test puts in the prompt; they select stand-in behaviour and never appear in the answer. */
export const MARKER_PATTERN = /\[\[[a-z-]+(?::[a-z0-9_-]+)?\]\]/g;

/** `[[length:N]]` asks for exactly N tokens (for the bench and for chunking tests); otherwise the answer is ~100 tokens. */
const LENGTH_MARKER = /\[\[length:(\d{1,6})\]\]/;

/** FNV-1a: a tiny stable hash so the choice of wording depends only on the input. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, "utf8")) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** mulberry32: a seeded PRNG, uniform in [0, 1), so every "random" pick is reproducible (the stand-in's answers, the fuzz test's frames). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TITLES = ["Streaming, token by token", "How the answer travels", "A short tour", "What happens next"];
const ITEMS = [
  "The worker reads the **ConverseStream** deltas as they arrive.",
  "Chunks are coalesced, then published with GraphQL *variables* only.",
  "Each event carries a `sequenceNumber`, so gaps are easy to spot.",
  "A subscriber sees only its own session: the filter checks `userId` too.",
  "Newlines survive intact:\n  - nested item one\n  - nested item two",
  "Quotes like \"double\", 'single' and “curly” pass through unchanged.",
  "Backslashes stay put: C:\\temp\\new and \\d+ are not escapes.",
  "Unicode is not an afterthought: naïve café, 日本語, Ελληνικά, русский.",
];
const CODE_BLOCKS = [
  '```ts\nconst greeting = "héllo, \\"world\\"";\nconsole.log(greeting.split("\\n").join("\\\\n"));\n```',
  '```json\n{ "path": "C:\\\\logs\\\\today", "emoji": "🚀", "quote": "she said \\"hi\\"" }\n```',
  "```python\nprint(\"tab\\tseparated\", r'raw \\d+')\n# ünïcödé comment ✨\n```",
];
const CLOSINGS = ["That's all — enjoy! 🚀✨", "Done. 👩‍💻 Happy hacking! 🎉", "Fin. ☕️ Questions? 🙂"];

/** Up to `max` code points of the prompt, markers removed and whitespace collapsed, for the answer's first line. */
function excerpt(prompt: string, max = 60): string {
  const clean = prompt.replace(MARKER_PATTERN, " ").replace(/\s+/g, " ").trim();
  const points = Array.from(clean);
  return points.length > max ? `${points.slice(0, max).join("")}…` : clean;
}

/** Splits text into token-like pieces: leading whitespace (newlines included) sticks to up to 6 code points of text. */
export function tokenize(text: string): string[] {
  // The `u` flag keeps surrogate pairs whole, so every token is valid UTF-16 on its own.
  return text.match(/\s*\S{1,6}|\s+/gu) ?? [];
}

function paragraph(rand: () => number, prompt: string, modelId: string, round: number): string {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
  const items = [...ITEMS].sort(() => rand() - 0.5).slice(0, 3);
  const heading = round === 0 ? `## ${pick(TITLES)}` : `### Part ${round + 1}`;
  const asked = prompt ? `You asked: “${excerpt(prompt)}” — here is an answer from \`${modelId}\`.` : `Here is an answer from \`${modelId}\`.`;
  return [heading, "", asked, "", ...items.map((i) => `- ${i}`), "", "1. Subscribe first.", "2. Then send the prompt.", "", pick(CODE_BLOCKS), "", `> ${pick(CLOSINGS)}`].join("\n");
}

/** The answer's tokens for a prompt (the last user message's text) and a model id. Pure and deterministic. */
export function answerFor(prompt: string, modelId: string): string[] {
  const rand = seeded(fnv1a(`${modelId}\n${prompt}`));
  const wanted = LENGTH_MARKER.exec(prompt);
  const target = wanted ? Number(wanted[1]) : 0;
  let text = paragraph(rand, prompt, modelId, 0);
  let tokens = tokenize(text);
  for (let round = 1; tokens.length < target; round++) {
    text += `\n\n${paragraph(rand, prompt, modelId, round)}`;
    tokens = tokenize(text);
  }
  return wanted ? tokens.slice(0, target) : tokens;
}

/** The reasoning text emitted first when the prompt carries `[[reasoning]]`. */
export function reasoningFor(prompt: string): string[] {
  return tokenize(`The user wrote “${excerpt(prompt, 40)}”. I should answer in markdown, keep newlines,\nand include a code block.`);
}
