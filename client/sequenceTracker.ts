/**
 * Which numbers of a sequence (0, 1, 2, ...) have arrived: the contiguous prefix and what is held beyond a gap. The
 * assembler keeps one for a run's message-wide `eventSequence` (contracts/streamEvents.ts, envelope version 3).
 * Pure TypeScript: the web page, the CLI and the tests share it.
 */
export class SequenceTracker {
  private readonly seen = new Set<number>();
  private next = 0;

  /** Records `n`; false when it was already there (a duplicate). */
  add(n: number): boolean {
    if (this.seen.has(n)) return false;
    this.seen.add(n);
    while (this.seen.has(this.next)) this.next++;
    return true;
  }

  has(n: number): boolean {
    return this.seen.has(n);
  }

  /** The last number of the contiguous prefix; -1 before 0 arrived. */
  get contiguousThrough(): number {
    return this.next - 1;
  }

  /** Numbers that arrived beyond the first gap: more than zero means something before them is missing. */
  get aheadCount(): number {
    return this.seen.size - this.next;
  }

  /** Whether any number arrived at all. */
  get started(): boolean {
    return this.seen.size > 0;
  }

  clear(): void {
    this.seen.clear();
    this.next = 0;
  }
}
