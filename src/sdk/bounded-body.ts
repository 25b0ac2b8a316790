/**
 * The body of a fetch Response, read up to `max` bytes: a hostile or broken server cannot make the
 * SDK buffer an unbounded answer. Null when the body is longer (its stream is cancelled); each
 * caller turns that into its own typed error (the vault client's, the StepAuth client's).
 */
export async function readBoundedBody(res: Response, max: number): Promise<Uint8Array | null> {
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return all;
}
