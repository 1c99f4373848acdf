/**
 * What `npm run chat` says on stderr beside the answer (envelope version 3): the reasoning as it streams, and a line
 * per tool call when it starts and when it ends ("[tool 1] ⟳ Checking the current time...", then "✓" or "✗ failed").
 * The answer itself stays alone on stdout.
 */
import type { MessageAssembler } from "../client/assembler";

/** Where the lines go (process.stderr, or a test's buffer). */
export interface ActivityOutput {
  write(text: string): unknown;
}

const MARKS = { started: "⟳", completed: "✓", failed: "✗" } as const;

export class AgentActivityPrinter {
  private reasoningPrinted = "";
  private readonly printedStatus = new Map<number, string>();
  /** True while the last thing written is reasoning text without its line end. */
  private midLine = false;

  constructor(private readonly out: ActivityOutput) {}

  /** Writes what changed since the last call: more reasoning, a tool call that started or ended. */
  show(assembler: MessageAssembler): void {
    this.showReasoning(assembler.reasoning);
    for (const tool of assembler.toolActivities) {
      if (this.printedStatus.get(tool.invocationNumber) === tool.status) continue;
      this.printedStatus.set(tool.invocationNumber, tool.status);
      const outcome = tool.status === "started" ? "" : tool.status === "failed" ? ` (${tool.toolName} failed)` : ` (${tool.toolName} done)`;
      this.line(`[tool ${tool.invocationNumber}] ${MARKS[tool.status]} ${tool.toolAction}${outcome}`);
    }
  }

  /** Ends a reasoning line left open. */
  finish(): void {
    if (this.midLine) this.out.write("\n");
    this.midLine = false;
  }

  private showReasoning(reasoning: string): void {
    // Only ever what extends the printed text: a final whose reasoning differs (chunks lost on the way) is not reprinted.
    if (reasoning.length <= this.reasoningPrinted.length || !reasoning.startsWith(this.reasoningPrinted)) return;
    if (!this.midLine) this.out.write(this.reasoningPrinted ? "[reasoning, continued] " : "[reasoning] ");
    this.out.write(reasoning.slice(this.reasoningPrinted.length));
    this.reasoningPrinted = reasoning;
    this.midLine = !reasoning.endsWith("\n");
  }

  private line(text: string): void {
    this.finish();
    this.out.write(`${text}\n`);
  }
}
