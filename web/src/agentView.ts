/**
 * The agent parts of an answer in the web console (envelope version 3): a line per tool call, inline in the answer
 * where the call happened (after the text streamed before it), while it runs ("⟳ Checking the current time...") and
 * then "✓" or "✗ ... (failed)"; the reasoning panel filling live (opened while only reasoning has come, unless the
 * user toggled it); the references a final named, as links. Everything reaches the DOM as text; a reference is a
 * link only when its URL is http or https.
 */
import type { MessageAssembler, ToolActivity } from "../../client/assembler";
import type { Reference } from "../../contracts/streamEvents";
import { renderMarkdown } from "./markdown";

const MARKS: Record<ToolActivity["status"], string> = { started: "⟳", completed: "✓", failed: "✗" };

/** Builds an element with text children only. */
function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string>, ...text: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...text);
  return node;
}

/** One tool call's line: its mark, its notice and, once it ended, how. */
function noticeLine(tool: ToolActivity): HTMLLIElement {
  const outcome = tool.status === "failed" ? " (failed)" : "";
  return el("li", { class: `tool-notice ${tool.status}`, "data-testid": "tool-notice", "data-status": tool.status, "data-invocation": String(tool.invocationNumber), title: tool.toolName }, `${MARKS[tool.status]} ${tool.toolAction}${outcome}`);
}

/** A reference as a link (new tab, no referrer) when its URL is http(s), else as plain text. */
function referenceItem(reference: Reference): HTMLLIElement {
  let url: URL | undefined;
  try {
    url = new URL(reference.url);
  } catch {
    url = undefined;
  }
  const title = reference.title || reference.url;
  if (!url || (url.protocol !== "https:" && url.protocol !== "http:")) return el("li", {}, title);
  return el("li", {}, el("a", { href: url.href, target: "_blank", rel: "noopener noreferrer nofollow", "data-testid": "reference" }, title));
}

/**
 * The answer's text with the tool calls' notices between its parts: each call after the text streamed before it (a
 * round's text ends at a paragraph, so each part renders as markdown on its own); without calls, the markdown alone.
 */
export function renderAnswer(target: HTMLElement, a: MessageAssembler): void {
  const tools = a.toolActivities;
  if (tools.length === 0) return renderMarkdown(target, a.text);
  const parts: Node[] = [];
  const part = (text: string) => {
    if (text === "") return;
    const div = el("div", { class: "answer-part" });
    renderMarkdown(div, text);
    parts.push(div);
  };
  let from = 0;
  for (const tool of tools) {
    const at = Math.min(Math.max(from, a.textOffsetAt(tool.eventSequence)), a.text.length);
    part(a.text.slice(from, at));
    from = at;
    const last = parts.at(-1);
    if (last instanceof HTMLUListElement) last.append(noticeLine(tool));
    else parts.push(el("ul", { class: "tool-notices", "data-testid": "tool-notices" }, noticeLine(tool)));
  }
  part(a.text.slice(from));
  target.replaceChildren(...parts);
}

export interface AgentView {
  /** The references, placed after the answer. */
  references: HTMLElement;
  render(assembler: MessageAssembler): void;
}

/** The reasoning and references of one answer; `reasoning` is the answer's collapsible panel and `reasoningBody` its text. */
export function agentView(reasoning: HTMLDetailsElement, reasoningBody: HTMLElement): AgentView {
  const list = el("ol", {});
  const references = el("div", { class: "references", "data-testid": "references" }, el("div", { class: "references-title" }, "Sources"), list);
  references.hidden = true;
  let userToggled = false;
  reasoning.querySelector("summary")?.addEventListener("click", () => (userToggled = true));
  const render = (a: MessageAssembler): void => {
    if (a.reasoning && reasoningBody.textContent !== a.reasoning) {
      reasoning.hidden = false;
      reasoningBody.textContent = a.reasoning;
      // Opened while the reasoning is all there is to read; then left as it is, and the user's own choice wins.
      if (!userToggled && a.text === "" && !a.done) reasoning.open = true;
    }
    const refs = a.references;
    references.hidden = refs.length === 0;
    if (list.childElementCount !== refs.length) list.replaceChildren(...refs.map(referenceItem));
  };
  return { references, render };
}
