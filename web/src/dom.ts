/** The page's small DOM helpers: elements built from text only (model output never becomes markup), lookups, formats. */

export type Attrs = Record<string, string | undefined>;
export type Child = Node | string | null | undefined | false;

/** Builds an element; strings become text nodes, never markup. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) el.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

export function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el;
}

export const fmtMs = (ms: number | undefined): string => (ms === undefined ? "—" : `${Math.round(ms)} ms`);

/** UTF-8 bytes of a text. */
export const utf8Length = (text: string): number => new TextEncoder().encode(text).length;

/** Coalesces calls to one `render` per animation frame. */
export function frameScheduler(render: () => void): () => void {
  let pending = false;
  return () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      render();
    });
  };
}
