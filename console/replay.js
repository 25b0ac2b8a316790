// Replay (admins): paste a candidate version of a policy (JSON or YAML), choose how far back, run it
// over the recorded requests, and read the report: how many requests go from each old decision to
// each new one, and which would change, with the conditions that decided them. Nothing is changed by
// a replay; it is recorded in the ledger (policy.replayed). docs/shadow-mode.md#replay
import { ApiError, getPolicy, listPolicies, replayPolicy } from "./api.js";
import { byId, fill, h, notice, section } from "./dom.js";
import { dateText, text } from "./format.js";

const decisionBadges = { approved: "badge-approved", denied: "badge-denied", review: "badge-pending_review" };
const decision = (d) => h("span", { class: `badge ${decisionBadges[d] ?? "badge-processing"}` }, text(d));
const describe = (err) => (err instanceof ApiError ? err.describe() : String(err));

/** A table with a caption (its accessible name), scrolled sideways on its own on a phone. */
function table(caption, headers, rows) {
  return h(
    "div",
    { class: "table-wrap", role: "region", "aria-label": `${caption} table`, tabindex: "0" },
    h("table", { class: "data-table" }, h("caption", { class: "visually-hidden" }, caption), h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, rows)),
  );
}

/** The registration body of a policy's current version, as a starting point to edit. */
function registrable(p) {
  return {
    policy_id: p.policy_id,
    description: p.description ?? "",
    rules: p.rules ?? [],
    tools: p.tools ?? [],
    conditions: (p.conditions ?? []).map((c) => ({ id: c.id, when: c.when, decision: c.decision, reason: c.reason ?? "" })),
    default_decision: p.default_decision ?? "review",
  };
}

export class ReplayView {
  constructor({ announce }) {
    this.announce = announce;
    this.form = byId("replay-form");
    this.policy = byId("replay-policy");
    this.candidate = byId("replay-candidate");
    this.result = byId("replay-result");
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.run();
    });
    byId("replay-load").addEventListener("click", () => void this.loadCurrent());
  }

  /** Fills the policy choices (current policies; a new id may be typed instead). */
  async load() {
    try {
      const page = await listPolicies({});
      const ids = (Array.isArray(page?.policies) ? page.policies : []).map((p) => p.policy_id);
      fill(byId("replay-policies"), ids.map((id) => h("option", { value: id })));
      notice(byId("replay-error"), "");
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) notice(byId("replay-error"), `Could not load the policies. ${describe(err)}`);
    }
  }

  async loadCurrent() {
    const id = this.policy.value.trim();
    if (!id) return notice(byId("replay-error"), "Choose a policy first.");
    try {
      this.candidate.value = JSON.stringify(registrable(await getPolicy(id)), null, 2);
      notice(byId("replay-error"), "");
    } catch (err) {
      notice(byId("replay-error"), `Could not load policy ${id}. ${describe(err)}`);
    }
  }

  async run() {
    const error = byId("replay-error");
    const id = this.policy.value.trim();
    const candidate = this.candidate.value.trim();
    if (!id || !candidate) return notice(error, "Choose a policy and paste its candidate version (JSON or YAML).");
    const limit = Number(byId("replay-limit").value || "10000");
    const body = { candidate, since: byId("replay-since").value.trim() || "30d", limit, with_llm: byId("replay-llm").checked };
    const button = this.form.querySelector("button[type=submit]");
    button.disabled = true;
    this.result.setAttribute("aria-busy", "true");
    notice(error, "");
    byId("replay-status").textContent = "Replaying…";
    try {
      const report = await replayPolicy(id, body);
      this.render(report);
      byId("replay-status").textContent = `Replayed ${report.evaluated} requests: ${report.changed_total} would change.`;
      this.announce?.(`Replay finished: ${report.changed_total} of ${report.evaluated} decisions would change`);
    } catch (err) {
      byId("replay-status").textContent = "";
      notice(error, describe(err));
    } finally {
      button.disabled = false;
      this.result.removeAttribute("aria-busy");
    }
  }

  render(r) {
    const transitions = Object.entries(r.transitions ?? {}).map(([pair, n]) => {
      const [from, to] = pair.split("→");
      return h("tr", { "data-transition": pair, class: from === to ? null : "changed" }, h("td", {}, decision(from)), h("td", {}, decision(to)), h("td", { class: "num" }, String(n)), h("td", {}, from === to ? "" : "changes"));
    });
    const changed = (r.changed ?? []).map((c) =>
      h(
        "tr",
        { "data-request-id": c.request_id },
        h("td", {}, h("a", { href: `#/reviews/${encodeURIComponent(c.request_id)}` }, h("code", {}, c.request_id))),
        h("td", {}, dateText(c.created_at)),
        h("td", {}, h("code", {}, text(c.tool))),
        h("td", {}, decision(c.old), " → ", decision(c.new)),
        h("td", {}, (c.matched_condition_ids ?? []).length ? (c.matched_condition_ids ?? []).map((m) => h("code", { class: "condition" }, m)) : "default"),
        h("td", {}, c.relied_on_llm ? "yes" : ""),
      ),
    );
    const stopped =
      r.stopped === "limit"
        ? ` Stopped at the limit of ${r.limit}.`
        : r.stopped === "time_budget"
          ? " Stopped at the time budget: replay a shorter window."
          : r.stopped === "condition_timeouts"
            ? " Stopped: the conditions ran over their time budget on too many requests (live, each would go to review as condition_timeout)."
            : "";
    const llm = r.with_llm ? ` ${r.relied_on_llm_count} decisions relied on the LLM.` : r.llm_not_replayed ? ` ${r.llm_not_replayed} would have gone to the LLM, which was not replayed.` : "";
    fill(
      this.result,
      section(
        "replay-summary-title",
        "Summary",
        h("p", {}, `${r.requests} recorded requests from ${dateText(r.window?.since)} to ${dateText(r.window?.until)}: ${r.evaluated} replayed, ${r.skipped} skipped (no decision to compare).${stopped}${llm}`),
        h("p", { class: "hint" }, "Candidate ", h("code", { class: "hash" }, text(r.candidate_content_hash)), ` · ${r.duration_ms} ms · ledger event `, h("code", {}, text(r.ledger_event_uuid))),
        table("Decisions, old to new", ["Old", "New", "Requests", ""], transitions),
      ),
      section(
        "replay-changed-title",
        `Requests whose decision would change (${r.changed_total})`,
        changed.length ? table("Changed requests", ["Request", "Created", "Tool", "Decision", "Matched conditions", "LLM"], changed) : h("p", { class: "empty" }, "No decision would change."),
        r.changed_total > changed.length ? h("p", { class: "hint" }, `The newest ${changed.length} are listed.`) : null,
      ),
    );
  }
}
