/**
 * RFC 9421 §2.5 signature bases. Two builders, because the Sigilum profile deviates from the RFC:
 * - rfc9421SignatureBase: the generic form, with component values exactly as the caller derived them
 *   (an RFC verifier keeps the method's case: `"@method": POST`).
 * - sigilumSignatureBase: the Sigilum profile (reference §3): lowercase `@method`, `@target-uri` as the
 *   WHATWG URL serialisation without fragment, header values trimmed. Lines are joined with LF and there
 *   is no trailing LF in either form.
 */

/** One line per component, then `"@signature-params": <params>`. `id` is the bare component name (quoted here). */
export function rfc9421SignatureBase(lines: { id: string; value: string }[], signatureParams: string): string {
  return [...lines.map((line) => `"${line.id}": ${line.value}`), `"@signature-params": ${signatureParams}`].join("\n");
}

/** What the Sigilum profile needs from a request; `header` returns the combined value (see headerReader). */
export interface SigilumBaseRequest {
  method: string;
  /** The absolute URL of the request, as the verifier sees it (or the signer sends it). */
  targetUri: string;
  header(name: string): string | undefined;
}

/**
 * The WHATWG serialisation of `url` without its fragment, or null if it is not an absolute URL. Both
 * sides normalise through the same parser, so a default port, a missing `/` path or a lowercase host
 * cannot make signer and verifier disagree.
 */
export function sigilumTargetUri(url: string): string | null {
  if (typeof url !== "string") return null;
  try {
    const parsed = new URL(url);
    parsed.hash = "";
    return parsed.toString();
  } catch {
    return null;
  }
}

// A CR or LF inside a value would add a line to the base: two different requests could then share one
// base. HTTP parsers never hand such a value over; a hostile `header` callback could, so it is refused.
const LINE_BREAK = /[\r\n]/;

/**
 * The Sigilum base for `components` (in their order), or null when a component cannot be resolved:
 * an absent or empty header, an unknown derived component, a URL that does not parse, or a line break.
 */
export function sigilumSignatureBase(req: SigilumBaseRequest, components: readonly string[], signatureParams: string): string | null {
  const lines: { id: string; value: string }[] = [];
  for (const id of components) {
    let value: string | null | undefined;
    if (id === "@method") value = typeof req.method === "string" ? req.method.toLowerCase() : null;
    else if (id === "@target-uri") value = sigilumTargetUri(req.targetUri);
    else if (id.startsWith("@")) value = null;
    else value = req.header(id)?.trim();
    if (!value || LINE_BREAK.test(value)) return null;
    lines.push({ id, value });
  }
  if (LINE_BREAK.test(signatureParams)) return null;
  return rfc9421SignatureBase(lines, signatureParams);
}

/**
 * A `header(name)` over a fetch Headers object or a Node/Fastify header record, with fetch's
 * semantics: names case-insensitive, repeated field lines joined with ", " (RFC 9110 §5.3).
 */
export function headerReader(headers: Headers | Record<string, string | string[] | undefined>): (name: string) => string | undefined {
  if (typeof (headers as Headers).get === "function") {
    return (name) => (headers as Headers).get(name) ?? undefined;
  }
  const lower = new Map<string, string>();
  for (const [key, value] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
    if (value === undefined) continue;
    const joined = Array.isArray(value) ? value.join(", ") : String(value);
    const name = key.toLowerCase();
    const previous = lower.get(name);
    lower.set(name, previous === undefined ? joined : `${previous}, ${joined}`);
  }
  return (name) => lower.get(name.toLowerCase());
}
