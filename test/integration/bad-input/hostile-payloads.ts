/**
 * Builders for the hostile inputs of the bad-input suite: raw JSON texts JSON.stringify cannot
 * write, bodies of an exact size or depth, hand-made token parts, raw HTTP requests and bad API keys.
 */

export type Json = Record<string, unknown>;

/** `levels` nested arrays: depth `levels`. */
export const deepArray = (levels: number) => "[".repeat(levels) + "]".repeat(levels);
export const deepObject = (levels: number) => '{"a":'.repeat(levels - 1) + "{}" + "}".repeat(levels - 1);

/** A string of `n` characters, for length limits. */
export const long = (n: number) => "x".repeat(n);

/** The JSON text of `body` with extra raw members appended (for values JSON.stringify cannot write). */
export function withRawMembers(body: Json, members: string): string {
  const text = JSON.stringify(body);
  return text === "{}" ? `{${members}}` : `${text.slice(0, -1)},${members}}`;
}

/** A body of exactly `bytes` bytes: `body` plus an unknown padding field. */
export function paddedTo(body: Json, bytes: number): string {
  const base = withRawMembers(body, '"zzz_padding":""');
  const pad = bytes - Buffer.byteLength(base);
  if (pad < 0) throw new Error("body already larger than the target");
  return withRawMembers(body, `"zzz_padding":"${"a".repeat(pad)}"`);
}

export const b64u = (s: string | Buffer) => Buffer.from(s).toString("base64url");
export const b64json = (o: unknown) => b64u(JSON.stringify(o));

/** The text of one HTTP/1.1 request, for requests fetch refuses to send (see BadInputVault.rawHttp). */
export function rawRequest(method: string, path: string, headers: Record<string, string>, body = ""): string {
  const lines = [`${method} ${path} HTTP/1.1`, "Host: 127.0.0.1", "Connection: close"];
  for (const [k, val] of Object.entries(headers)) lines.push(`${k}: ${val}`);
  return `${lines.join("\r\n")}\r\n\r\n${body}`;
}

/** API keys every authenticated endpoint must refuse with 401 unauthorized. */
export const badApiKeys: { label: string; key: (adminKey: string) => string | undefined }[] = [
  { label: "no API key", key: () => undefined },
  { label: "an empty API key", key: () => "" },
  { label: "a garbage API key", key: () => "csk_not_a_real_key" },
  { label: "a 600-character API key", key: () => `csk_${"x".repeat(596)}` },
  { label: "an 8 KiB API key", key: () => "k".repeat(8192) },
  { label: "an API key with Latin-1 bytes", key: () => "csk_caf\u00e9" },
  { label: "another key with one character changed", key: (adminKey) => `${adminKey.slice(0, -1)}${adminKey.endsWith("a") ? "b" : "a"}` },
];
