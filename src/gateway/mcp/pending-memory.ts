/**
 * Per MCP session: the clearance requests that ended a call as pending (mode `return`, or `wait` that
 * ran out), by tool and arguments hash. Calling the same tool again with the same arguments in the
 * same session picks the request up instead of asking anew. One owner: the session (session.ts);
 * dropped with it. Bounded, oldest first out, so a session cannot grow it without limit.
 */
export class PendingMemory {
  private readonly byCall = new Map<string, string>();

  constructor(private readonly maxEntries = 1000) {}

  private static key(toolName: string, argsHash: string): string {
    return `${toolName}\u0000${argsHash}`;
  }

  get(toolName: string, argsHash: string): string | undefined {
    return this.byCall.get(PendingMemory.key(toolName, argsHash));
  }

  remember(toolName: string, argsHash: string, requestId: string): void {
    const key = PendingMemory.key(toolName, argsHash);
    this.byCall.delete(key);
    this.byCall.set(key, requestId);
    if (this.byCall.size > this.maxEntries) this.byCall.delete(this.byCall.keys().next().value!);
  }

  /** A decided request is forgotten: the next identical call is a new action and asks for a new approval. */
  forget(toolName: string, argsHash: string): void {
    this.byCall.delete(PendingMemory.key(toolName, argsHash));
  }

  get size(): number {
    return this.byCall.size;
  }
}
