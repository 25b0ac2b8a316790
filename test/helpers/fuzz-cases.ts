/**
 * Whole requests from the endpoint catalogue: a schema-generated body put through 0-3 tree
 * mutations and maybe a byte mutation, a content type, an Idempotency-Key, and for body-less routes
 * garbage path segments and query strings.
 */
import fc from "fast-check";
import { byteMutationArb, confusableStrings, mutationArb, prototypeKeys, render, repeatedKey, toRaw, type Mutation } from "./fuzz-raw-json.js";
import { percentEncode, type BodyEndpoint, type KnownIds, type QueryEndpoint, type Role } from "./fuzz-endpoints.js";
import { describeRequest, type FuzzRequest } from "./fuzz-vault.js";

export type Keys = Record<Exclude<Role, "none">, string>;

/** Mostly JSON (so the body reaches validation); sometimes a type the route must refuse with 415. */
const contentTypeArb: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom("application/json", "application/json; charset=utf-8") },
  fc.constantFrom(
    undefined, "", "text/plain", "text/markdown", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
    "application/json; charset=latin1", "application/json; charset=utf-16", "APPLICATION/JSON", "application/merge-patch+json",
    "application/json, text/plain", "application/octet-stream", "*/*", "application/problem+json", "application/jsonx", "json",
  ),
);

/** Header values Node can put on the wire: visible ASCII, spaces, tabs and Latin-1 bytes. */
const headerText = (maxLength: number) => fc.string({ maxLength, unit: fc.constantFrom(..."aZ09-_.:/ \t~!\u00e9\u00ff%\"'{}=;,") });

/** Absent mostly; otherwise valid, or the garbage idempotencyKeyOf must refuse with 400. */
const idempotencyKeyArb: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  fc.stringMatching(/^[\x21-\x7e]{1,40}$/),
  headerText(40),
  fc.constantFrom("", " ", "x".repeat(255), "x".repeat(256), "x".repeat(5000), "\u00e9", "a b", "__proto__"),
);

/** The role's key mostly; sometimes another role's or garbage (401/403 are answers too). */
function apiKeyArb(role: Role, keys: Keys): fc.Arbitrary<string | undefined> {
  const own = role === "none" ? fc.constant(undefined) : fc.constant(keys[role]);
  return fc.oneof(
    { weight: 12, arbitrary: own },
    fc.constantFrom(undefined, keys.admin, keys.agent, keys.reviewer, "", "csk_nope", `${keys.admin}x`, keys.admin.toUpperCase()),
    headerText(80),
  );
}

function headersOf(key: string | undefined, contentType: string | undefined, idempotencyKey: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (key !== undefined) headers["x-vault-api-key"] = key;
  if (contentType !== undefined) headers["content-type"] = contentType;
  if (idempotencyKey !== undefined) headers["idempotency-key"] = idempotencyKey;
  return headers;
}

/** fast-check prints a case with this, so a counterexample reads as a request. */
function printable(r: FuzzRequest): FuzzRequest {
  return Object.assign(r, { [fc.toStringMethod]: () => describeRequest(r) });
}

export function bodyCaseArb(spec: BodyEndpoint, ids: KnownIds, keys: Keys): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({
      path: spec.path(ids),
      base: spec.body(ids),
      // A third of the cases unmutated, so accepted writes happen and "nothing stored" compares against real writes.
      mutations: fc.oneof({ weight: 1, arbitrary: fc.constant<Mutation[]>([]) }, { weight: 2, arbitrary: fc.array(mutationArb, { minLength: 1, maxLength: 3 }) }),
      bytes: byteMutationArb,
      contentType: contentTypeArb,
      idempotencyKey: idempotencyKeyArb,
      key: apiKeyArb(spec.role, keys),
    })
    .map(({ path, base, mutations, bytes, contentType, idempotencyKey, key }) => {
      const tree = mutations.reduce((t, m) => m.apply(t), toRaw(base));
      const sentAsJson = bytes.name === "as rendered" && /^application\/json/i.test(contentType ?? "");
      return printable({
        repeatedKey: sentAsJson ? repeatedKey(tree) : undefined,
        endpoint: spec.name,
        method: spec.method,
        url: path,
        headers: headersOf(key, contentType, idempotencyKey),
        body: bytes.apply(render(tree)),
        mutations: [...mutations.map((m) => m.name), bytes.name],
        tables: spec.tables,
        afterAnswer: spec.afterAnswer && ((status: number, text: string) => spec.afterAnswer!(ids, status, text)),
      });
    });
}

/** A query value: a real id, in range, out of range, not a number, or hostile text. */
const queryValueArb = (ids: KnownIds): fc.Arbitrary<string> => fc.oneof(
  fc.constantFrom(ids.approvedRequestId, ids.pendingRequestId, ids.policyId, "1", "2"),
  fc.nat({ max: 2000 }).map(String),
  fc.constantFrom(
    "", "-1", "0", "1e3", "1.5", " 1", "0x10", "99999999999999999999", "9007199254740993", "1e309", "-0", "NaN",
    "asc", "desc", "auto", "none", "pending", "all", "dead", "webhook", "true", "[]", "{}",
  ),
  fc.constantFrom(...confusableStrings),
  fc.string({ maxLength: 30, unit: "binary" }),
  fc.integer({ min: 300, max: 5000 }).map((n) => "q".repeat(n)),
);

function queryArb(params: string[], ids: KnownIds): fc.Arbitrary<string> {
  const name = fc.oneof(
    { weight: 4, arbitrary: params.length > 0 ? fc.constantFrom(...params) : fc.constant("x") },
    fc.constantFrom(...prototypeKeys, "a[b]", "limit[]", "__proto__[x]", "constructor[prototype][x]"),
    fc.string({ minLength: 1, maxLength: 10 }),
  );
  return fc
    .record({
      pairs: fc.array(fc.tuple(name, queryValueArb(ids)), { maxLength: 5 }),
      encode: fc.constantFrom("encoded", "encoded", "raw", "bad-percent"),
    })
    .map(({ pairs, encode }) => {
      if (pairs.length === 0) return "";
      const parts = pairs.map(([k, v]) => {
        // ?wait=N on an undecided request holds the answer N seconds: kept out of range or zero so a case cannot stall the run.
        if (k === "wait" && /^\d{1,16}$/.test(v) && Number(v) > 0 && Number(v) <= 60) v = "0";
        if (encode === "raw") return `${percentEncode(k, true)}=${percentEncode(v, true)}`;
        if (encode === "bad-percent") return `${percentEncode(k)}=${percentEncode(v)}%ZZ%`;
        return `${percentEncode(k)}=${percentEncode(v)}`;
      });
      return `?${parts.join("&")}`;
    });
}

export function queryCaseArb(spec: QueryEndpoint, ids: KnownIds, keys: Keys): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({
      path: spec.path(ids),
      query: queryArb(spec.params, ids),
      key: apiKeyArb(spec.role, keys),
      // The SDK sends Content-Type: application/json on bodiless requests; other clients send nothing or junk.
      contentType: fc.constantFrom(undefined, "application/json", "text/plain"),
      body: fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, fc.constantFrom("", "{}", "{\"a\":1,\"a\":2}", "garbage")),
    })
    .map(({ path, query, key, contentType, body }) =>
      printable({
        endpoint: spec.name,
        method: spec.method,
        url: path + query,
        headers: headersOf(key, contentType, undefined),
        body: body === undefined ? undefined : Buffer.from(body),
        mutations: [],
        tables: spec.tables,
      }),
    );
}
