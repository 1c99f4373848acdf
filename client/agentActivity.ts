/**
 * What one run's agent events said (envelope version 3, contracts/streamEvents.ts): its tool calls by invocation
 * number, with the latest status each reached, and its reasoning assembled live from the chunks in index order.
 * Arrival order does not matter: a `completed` or `failed` event is never overwritten by a late `started`.
 * Pure TypeScript: the web console, the CLI and the tests share it through MessageAssembler.
 */
import type { ReasoningEvent, ToolActionEvent, ToolActionStatus } from "../contracts/streamEvents";

/** One tool call of the message as the user is told about it. */
export interface ToolActivity {
  invocationNumber: number;
  toolName: string;
  /** The notice in plain words ("Checking the current time..."). */
  toolAction: string;
  status: ToolActionStatus;
  /** The lowest eventSequence seen of the call (its `started` event's): where it sits among the text's chunks. */
  eventSequence: number;
}

/** What accepting an agent event did, in MessageAssembler's words. */
export type ActivityOutcome = "appended" | "buffered" | "duplicate";

export class AgentActivity {
  private readonly tools = new Map<number, ToolActivity>();
  private readonly reasoningAhead = new Map<number, string>();
  private readonly reasoningSeen = new Set<number>();
  private reasoningText = "";
  private nextReasoning = 0;

  acceptTool(data: ToolActionEvent["data"]): ActivityOutcome {
    const known = this.tools.get(data.invocationNumber);
    const eventSequence = Math.min(known?.eventSequence ?? data.eventSequence, data.eventSequence);
    if (known && (known.status === data.status || data.status === "started")) {
      known.eventSequence = eventSequence;
      return "duplicate";
    }
    this.tools.set(data.invocationNumber, { invocationNumber: data.invocationNumber, toolName: data.toolName, toolAction: data.toolAction, status: data.status, eventSequence });
    return "appended";
  }

  acceptReasoning({ index, value }: ReasoningEvent["data"]): ActivityOutcome {
    if (this.reasoningSeen.has(index)) return "duplicate";
    this.reasoningSeen.add(index);
    if (index !== this.nextReasoning) {
      this.reasoningAhead.set(index, value);
      return "buffered";
    }
    this.reasoningText += value;
    this.nextReasoning++;
    for (let next = this.reasoningAhead.get(this.nextReasoning); next !== undefined; next = this.reasoningAhead.get(this.nextReasoning)) {
      this.reasoningAhead.delete(this.nextReasoning);
      this.reasoningText += next;
      this.nextReasoning++;
    }
    return "appended";
  }

  /** The reasoning streamed so far: the chunks of the contiguous prefix. */
  get reasoning(): string {
    return this.reasoningText;
  }

  /** The message's tool calls in invocation order. */
  get toolActivities(): ToolActivity[] {
    return [...this.tools.values()].sort((a, b) => a.invocationNumber - b.invocationNumber);
  }

  clear(): void {
    this.tools.clear();
    this.reasoningAhead.clear();
    this.reasoningSeen.clear();
    this.reasoningText = "";
    this.nextReasoning = 0;
  }
}
