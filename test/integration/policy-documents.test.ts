/**
 * Documents attached to a policy: upload (JSON or raw markdown / text), listing, removal, and the
 * evidence they give clearance decisions, with the real offline embedding model.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Sql } from "../../src/db/sql.js";
import { canonicalJson, sha256Hex } from "../../src/tokens/canonical-json.js";
import { call, newDatabase, newKey, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

const travelPolicy = {
  policy_id: "travel-expenses",
  description: "Expense claims of employees",
  tools: ["expense_submit"],
  default_decision: "review",
};
// Other policies cover other tools, so a wrong filter would show up in the citations.
const otherPolicy = {
  policy_id: "refunds",
  description: "Refunds of customer payments for damaged orders",
  rules: ["Refunds up to $100 may be issued automatically"],
  tools: ["stripe_refund"],
  default_decision: "review",
};

const handbook = {
  title: "Travel Handbook",
  content: [
    "# Hotels",
    "Hotel stays are reimbursed up to $250 per night in major cities.",
    "# Meals",
    "Per diem for meals is $60 per day; alcohol is never reimbursed.",
    "# Rental cars",
    "Rental cars must be compact class unless five or more employees travel together. SUVs and luxury cars are not reimbursed.",
  ].join("\n\n"),
};
const rentalQuestion = { category: "rental car", vehicle: "luxury SUV", note: "car rental for a client visit, one employee" };

type Citation = { chunk_id: string; policy_id: string; policy_version_id: string; source: string; heading: string; excerpt: string };

describe.each<Engine>(["pglite", "postgres"])("policy documents on %s", (engine) => {
  let db: TestDatabase;
  let v: TestVault;
  let agent: string;
  let sql: Sql;
  const upload = (policyId: string, body: object, key = v.adminKey) => call(v.url, "POST", `/policies/${policyId}/documents`, { key, body });
  const uploadRaw = (policyId: string, contentType: string, text: string, title?: string) =>
    call(v.url, "POST", `/policies/${policyId}/documents${title ? `?title=${encodeURIComponent(title)}` : ""}`, {
      key: v.adminKey,
      rawBody: text,
      headers: { "content-type": contentType },
    });
  const list = (policyId: string, key = v.adminKey) => call(v.url, "GET", `/policies/${policyId}/documents`, { key });
  // call() sends Content-Type: application/json with no body, as the SDK does on bodiless requests.
  const remove = (policyId: string, documentId: string, key = v.adminKey) =>
    call(v.url, "DELETE", `/policies/${policyId}/documents/${documentId}`, { key });
  const askRental = async () => {
    const res = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "expense_submit", tool_args: rentalQuestion } });
    expect(res.status).toBe(200);
    return res.body.citations as Citation[];
  };
  const current = async () =>
    (
      await sql.query<{ id: string; content: string; content_hash: string; version: number }>(
        "SELECT v.id, v.content, v.content_hash, v.version FROM policies p JOIN policy_versions v ON v.id = p.current_version_id WHERE p.policy_id = $1",
        [travelPolicy.policy_id],
      )
    )[0]!;
  const expectProblem = (res: { status: number; headers: Headers; body: any }, status: number, code: string) => {
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(res.body.code).toBe(code);
  };

  beforeAll(async () => {
    db = newDatabase(engine);
    v = await startTestVault(db);
    agent = await newKey(v, "agent");
    sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
    for (const body of [travelPolicy, otherPolicy]) expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body })).status).toBe(200);
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  let handbookId: string;

  it("attaches a JSON document as a new policy version whose content hash commits to it", async () => {
    const before = await current();
    const res = await upload(travelPolicy.policy_id, handbook);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toEqual({
      status: "registered",
      policy_id: travelPolicy.policy_id,
      document_id: expect.stringMatching(/^doc_/),
      policy_version_id: expect.stringMatching(/^pv_/),
      policy_content_hash: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      version: before.version + 1,
      chunks: 3,
      embedding_model: "offline/universal-sentence-encoder",
    });
    handbookId = res.body.document_id;
    const after = await current();
    expect(after).toMatchObject({ id: res.body.policy_version_id, content_hash: res.body.policy_content_hash });
    expect(after.content_hash).not.toBe(before.content_hash);
    // The hash is over the canonical content, which names the document by the hash of its text.
    expect(after.content_hash).toBe(`sha256:${sha256Hex(canonicalJson(JSON.parse(after.content)))}`);
    expect(JSON.parse(after.content).documents).toEqual([
      { document_id: handbookId, title: "Travel Handbook", media_type: "text/markdown", content_hash: `sha256:${sha256Hex(handbook.content)}` },
    ]);
    const chunks = await sql.query<{ source: string; heading: string }>(
      "SELECT source, heading FROM policy_chunks WHERE policy_version_id = $1 ORDER BY source, ordinal",
      [after.id],
    );
    // The description's chunk is carried into the new version next to the document's chunks.
    expect(chunks).toEqual([
      { source: "description", heading: "travel-expenses" },
      { source: "document", heading: "Travel Handbook › Hotels" },
      { source: "document", heading: "Travel Handbook › Meals" },
      { source: "document", heading: "Travel Handbook › Rental cars" },
    ]);
  });

  it("cites the document's chunk for a request its text is about", async () => {
    const citations = await askRental();
    expect(citations[0]).toMatchObject({ source: "document", heading: "Travel Handbook › Rental cars", policy_id: travelPolicy.policy_id });
    expect(citations[0]!.excerpt).toContain("compact class");
    expect(citations.every((c) => c.policy_id === travelPolicy.policy_id)).toBe(true);
  });

  it("accepts raw text/markdown and text/plain bodies with ?title=", async () => {
    const md = await uploadRaw(travelPolicy.policy_id, "text/markdown; charset=utf-8", "# Visas\n\nVisa fees are reimbursed.", "Visa Rules");
    expect(md.status, JSON.stringify(md.body)).toBe(201);
    expect(md.body).toMatchObject({ chunks: 1, version: (await current()).version });
    const plain = await uploadRaw(travelPolicy.policy_id, "text/plain", "# not a heading in plain text\n\nSecond paragraph.", "Notes");
    expect(plain.status, JSON.stringify(plain.body)).toBe(201);
    expect(plain.body.version).toBe(md.body.version + 1);
    const untitled = await uploadRaw(travelPolicy.policy_id, "text/plain", "Taxi receipts are required.");
    expect(untitled.status).toBe(201);

    const docs = JSON.parse((await current()).content).documents as { document_id: string; title: string; media_type: string }[];
    expect(docs.map((d) => [d.title, d.media_type])).toEqual([
      ["Travel Handbook", "text/markdown"],
      ["Visa Rules", "text/markdown"],
      ["Notes", "text/plain"],
      ["Untitled document", "text/plain"],
    ]);
    // Later uploads copy earlier documents' chunks into their versions: look at one version only.
    const chunksOf = (documentId: string, versionId: string) =>
      sql.query("SELECT heading, text FROM policy_chunks WHERE document_id = $1 AND policy_version_id = $2", [documentId, versionId]);
    const headings = await chunksOf(md.body.document_id, md.body.policy_version_id);
    expect(headings).toEqual([{ heading: "Visa Rules › Visas", text: "Visa fees are reimbursed." }]);
    const plainChunks = await chunksOf(plain.body.document_id, plain.body.policy_version_id);
    expect(plainChunks).toEqual([{ heading: "Notes", text: "# not a heading in plain text\n\nSecond paragraph." }]);
    const stored = await sql.query("SELECT title, media_type, content FROM policy_documents WHERE id = $1", [plain.body.document_id]);
    expect(stored).toEqual([{ title: "Notes", media_type: "text/plain", content: "# not a heading in plain text\n\nSecond paragraph." }]);
    expect((await remove(travelPolicy.policy_id, untitled.body.document_id)).status).toBe(200);
  });

  it("lists the current version's documents with their chunk counts", async () => {
    const res = await list(travelPolicy.policy_id);
    expect(res.status).toBe(200);
    expect(res.body.policy_version_id).toBe((await current()).id);
    expect(res.body.documents.map((d: { title: string; chunks: number }) => [d.title, d.chunks])).toEqual([
      ["Travel Handbook", 3],
      ["Visa Rules", 1],
      ["Notes", 1],
    ]);
    expect(res.body.documents[0]).toMatchObject({ document_id: handbookId, media_type: "text/markdown", content_hash: `sha256:${sha256Hex(handbook.content)}` });
  });

  it("keeps documents when the policy is registered again", async () => {
    const same = await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: travelPolicy });
    expect(same.body).toMatchObject({ status: "unchanged", policy_version_id: (await current()).id });
    const changed = await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: { ...travelPolicy, description: "Expense claims of employees and contractors" } });
    expect(changed.body).toMatchObject({ status: "registered" });
    const listed = await list(travelPolicy.policy_id);
    expect(listed.body.policy_version_id).toBe(changed.body.policy_version_id);
    expect(listed.body.documents.map((d: { title: string; chunks: number }) => [d.title, d.chunks])).toEqual([
      ["Travel Handbook", 3],
      ["Visa Rules", 1],
      ["Notes", 1],
    ]);
    const citations = await askRental();
    expect(citations[0]).toMatchObject({ source: "document", heading: "Travel Handbook › Rental cars", policy_version_id: changed.body.policy_version_id });
  });

  it("removes a document as a new version; older versions keep its chunks", async () => {
    const before = await current();
    const res = await remove(travelPolicy.policy_id, handbookId);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ policy_id: travelPolicy.policy_id, document_id: handbookId, version: before.version + 1, chunks: 0, embedding_model: null });
    expect(res.body.policy_content_hash).not.toBe(before.content_hash);
    const listed = await list(travelPolicy.policy_id);
    expect(listed.body.documents.map((d: { title: string }) => d.title)).toEqual(["Visa Rules", "Notes"]);
    const left = await sql.query<{ version: string; n: number }>(
      "SELECT policy_version_id AS version, count(*)::int AS n FROM policy_chunks WHERE document_id = $1 AND policy_version_id IN ($2, $3) GROUP BY 1",
      [handbookId, before.id, res.body.policy_version_id],
    );
    expect(left).toEqual([{ version: before.id, n: 3 }]);
    const citations = await askRental();
    expect(citations.map((c) => c.heading)).not.toContain("Travel Handbook › Rental cars");
    expect(citations.every((c) => c.policy_version_id === res.body.policy_version_id)).toBe(true);

    expectProblem(await remove(travelPolicy.policy_id, handbookId), 404, "document_not_found");
  });

  it("answers 404 for an unknown policy, 403 for an agent key and 400 for an empty document", async () => {
    expectProblem(await upload("no-such-policy", handbook), 404, "policy_not_found");
    expectProblem(await list("no-such-policy"), 404, "policy_not_found");
    expectProblem(await remove("no-such-policy", "doc_x"), 404, "policy_not_found");
    expectProblem(await upload(travelPolicy.policy_id, handbook, agent), 403, "insufficient_scope");
    expectProblem(await list(travelPolicy.policy_id, agent), 403, "insufficient_scope");
    expectProblem(await remove(travelPolicy.policy_id, "doc_x", agent), 403, "insufficient_scope");
    const version = (await current()).version;
    expectProblem(await upload(travelPolicy.policy_id, { title: "Blank", content: " \n\n " }), 400, "validation_failed");
    expectProblem(await upload(travelPolicy.policy_id, { title: "Headings", content: "# Only\n\n## Headings" }), 400, "validation_failed");
    expectProblem(await uploadRaw(travelPolicy.policy_id, "text/markdown", "  \n", "Blank"), 400, "validation_failed");
    // A refused upload leaves the policy as it was.
    expect((await current()).version).toBe(version);
  });

  it("attaches nothing new when the same document is uploaded again (a retried upload)", async () => {
    const doc = { title: "Retry handbook", content: "# Receipts\n\nEvery expense needs a receipt scanned within a week." };
    const first = await upload(travelPolicy.policy_id, doc);
    expect(first.status).toBe(201);
    const again = await upload(travelPolicy.policy_id, doc);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({
      status: "unchanged",
      document_id: first.body.document_id,
      policy_version_id: first.body.policy_version_id,
      chunks: first.body.chunks,
    });
    const titles = (await list(travelPolicy.policy_id)).body.documents.map((d: { title: string }) => d.title);
    expect(titles.filter((t: string) => t === "Retry handbook")).toHaveLength(1);
    // The same text under another title is another document.
    expect((await upload(travelPolicy.policy_id, { ...doc, title: "Retry handbook (copy)" })).status).toBe(201);
  });
});
