// The tenant's policies (reviewers and admins), read-only: the list, and each policy in full with its
// conditions, rules, tools, documents, content hash and versions. A default of "approve" is called
// out, because a request nobody wrote a condition for is then approved with a token without any
// human seeing it (issue 11, item 1).
import { ApiError, getPolicy, getPolicyModes, listPolicies, listPolicyVersions, policyDiff, setPolicyMode } from "./api.js";
import { modeControl } from "./policy-modes.js";
import { byId, facts, fill, h, notice, section } from "./dom.js";
import { dateText, text } from "./format.js";

const defaultLabels = { approve: "Default: approve", review: "Default: review", deny: "Default: deny" };
const defaultBadges = { approve: "badge-warn", review: "badge-info", deny: "badge-denied" };
const decisionBadges = { approve: "badge-approved", review: "badge-pending_review", deny: "badge-denied" };

/** The one wording of the warning, shared with the request detail page. */
export const DEFAULT_APPROVE_WARNING = "Approves by default: a request that none of this policy's conditions matches is approved automatically, with a token, unless another policy or the judge decides otherwise.";

/** A visible warning paragraph; role="note" (not "alert"): it is standing information, read in order, not an interruption. */
export function defaultApproveWarning(id) {
  return h("p", { class: "notice notice-warn policy-warning", role: "note", id }, h("strong", {}, "Warning: "), DEFAULT_APPROVE_WARNING);
}

export const policyHref = (policyId) => `#/policies/${encodeURIComponent(policyId)}`;

const approvesByDefault = (p) => p.default_decision === "approve" || (Array.isArray(p.warnings) && p.warnings.some((w) => w?.code === "default_approve"));
const defaultBadge = (decision) => h("span", { class: `badge ${defaultBadges[decision] ?? "badge-processing"}` }, defaultLabels[decision] ?? `Default: ${text(decision)}`);
const statusBadge = (status) => (status === "retired" ? h("span", { class: "badge badge-retired" }, "Retired") : null);
const toolsText = (tools) => (Array.isArray(tools) && tools.length ? tools.join(", ") : "every tool");
/** A 404 while the vault predates the policy read API (or the policy is gone): the page falls back, it does not break. */
const missing = (err) => err instanceof ApiError && err.status === 404;
const describe = (err) => (err instanceof ApiError ? err.describe() : String(err));

export class PoliciesView {
  constructor({ announce, isAdmin } = {}) {
    this.announce = announce ?? (() => {});
    this.isAdmin = isAdmin ?? (() => false);
    /** policy_id → mode, from GET /policy-mode (empty when the vault predates shadow mode). */
    this.modes = new Map();
    this.list = byId("policies-list");
    this.cursor = null;
    /** The list's entries by policy_id: the detail page falls back to them when the vault has no detail API. */
    this.known = new Map();
    this.retired = byId("policies-retired");
    byId("policies-refresh").addEventListener("click", () => this.load());
    byId("policies-more").addEventListener("click", () => this.load(this.cursor));
    this.retired.addEventListener("change", () => this.load());
  }

  async load(cursor = null) {
    const error = byId("policies-error");
    this.list.setAttribute("aria-busy", "true");
    try {
      const [page] = await Promise.all([listPolicies({ cursor, includeRetired: this.retired.checked }), cursor ? null : this.loadModes()]);
      const policies = Array.isArray(page?.policies) ? page.policies : [];
      if (!cursor) this.known.clear();
      for (const p of policies) this.known.set(p.policy_id, p);
      const items = policies.map((p) => this.item(p));
      if (cursor) this.list.append(...items);
      else fill(this.list, items);
      this.cursor = page?.next_cursor ?? null;
      byId("policies-empty").hidden = this.list.childElementCount > 0;
      notice(error, "");
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) notice(error, `Could not load policies. ${describe(err)}`);
    } finally {
      this.list.removeAttribute("aria-busy");
      byId("policies-more").hidden = !this.cursor;
    }
  }

  /** The tenant's mode (a banner when it is shadow) and each policy's; a vault without the API leaves them unknown. */
  async loadModes() {
    const banner = byId("policies-mode");
    try {
      const view = await getPolicyModes();
      this.modes = new Map((view?.policies ?? []).map((m) => [m.policy_id, m.mode]));
      notice(banner, view?.mode === "shadow" ? `The tenant is in shadow mode: no policy decides, and every request is answered with the shadow default (${text(view.shadow_default)}).` : "");
    } catch (err) {
      this.modes = new Map();
      notice(banner, "");
      if (err instanceof ApiError && err.status === 401) throw err;
    }
  }

  async switchMode(policyId, mode) {
    try {
      await setPolicyMode(policyId, mode);
      this.announce(mode === "shadow" ? `Policy ${policyId} is now in shadow mode (log-only)` : `Policy ${policyId} enforces again`);
    } catch (err) {
      notice(byId("policies-error"), `Could not change the mode of ${policyId}. ${describe(err)}`);
    }
    await this.load();
  }

  item(p) {
    const approves = approvesByDefault(p);
    const mode = modeControl(p, this.modes.get(p.policy_id) ?? "enforce", { isAdmin: this.isAdmin, onSwitch: (id, to) => this.switchMode(id, to) });
    // Unique per policy, so appended pages never repeat an id.
    const warningId = `policy-warning-${encodeURIComponent(p.policy_id).replace(/[^A-Za-z0-9_-]/g, "_")}`;
    return h(
      "li",
      { class: `review-item${approves ? " policy-approves" : ""}`, "data-policy-id": p.policy_id, "aria-describedby": approves ? warningId : null },
      h(
        "div",
        { class: "review-item-head" },
        h("h2", { class: "policy-name" }, h("a", { href: policyHref(p.policy_id), class: "policy-link" }, h("code", {}, text(p.policy_id)))),
        h("span", { class: "badges" }, statusBadge(p.status), mode.badge, defaultBadge(p.default_decision)),
      ),
      approves ? defaultApproveWarning(warningId) : null,
      p.status === "retired" ? null : mode.control,
      p.description ? h("p", { class: "review-reason policy-description" }, p.description) : null,
      h(
        "ul",
        { class: "facts", "aria-label": "Details" },
        h("li", {}, "Tools ", h("strong", {}, toolsText(p.tools))),
        h("li", {}, `${p.condition_count ?? 0} ${p.condition_count === 1 ? "condition" : "conditions"}`),
        h("li", {}, `version ${text(p.version)}`),
        h("li", {}, `registered ${dateText(p.registered_at)}`),
      ),
    );
  }
}


/** A table with a caption (its accessible name) and column headers, scrolled sideways on its own on a phone. */
function table(caption, headers, rows) {
  return h(
    "div",
    // Focusable and named, so a keyboard can scroll a wide table sideways on a phone.
    { class: "table-wrap", role: "region", "aria-label": `${caption} table`, tabindex: "0" },
    h(
      "table",
      { class: "data-table" },
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows),
    ),
  );
}

function conditionsSection(p) {
  const conditions = Array.isArray(p.conditions) ? p.conditions : [];
  return section(
    "policy-conditions-title",
    "Conditions",
    h("p", { class: "hint" }, "Checked in order; the first that matches decides. When none matches, the default decision applies."),
    conditions.length
      ? table(
          "Conditions",
          ["Id", "When", "Decision", "Reason"],
          conditions.map((c) =>
            h(
              "tr",
              { "data-condition-id": text(c?.id, "") },
              h("td", {}, h("code", {}, text(c?.id))),
              h("td", {}, h("code", { class: "cel" }, text(c?.when))),
              h("td", {}, h("span", { class: `badge ${decisionBadges[c?.decision] ?? "badge-processing"}` }, text(c?.decision))),
              h("td", {}, text(c?.reason, "")),
            ),
          ),
        )
      : h("p", { class: "empty" }, "No conditions: the default decision applies unless the judge decides otherwise."),
    h("h3", {}, "Default decision"),
    h("p", {}, defaultBadge(p.default_decision)),
    approvesByDefault(p) ? defaultApproveWarning("policy-detail-warning") : null,
  );
}

function rulesSection(p) {
  const rules = Array.isArray(p.rules) ? p.rules : [];
  const documents = Array.isArray(p.documents) ? p.documents : [];
  return section(
    "policy-rules-title",
    "Rules and documents",
    h("p", { class: "hint" }, "What the judge retrieves as evidence when no condition decides."),
    h("h3", {}, "Rules"),
    rules.length ? h("ol", { class: "policy-rules" }, rules.map((r) => h("li", {}, text(r, "")))) : h("p", { class: "empty" }, "No rules."),
    h("h3", {}, "Documents"),
    documents.length
      ? table(
          "Documents",
          ["Title", "Type", "Content hash"],
          documents.map((d) => h("tr", {}, h("td", {}, text(d?.title)), h("td", {}, text(d?.media_type)), h("td", {}, h("code", { class: "hash" }, text(d?.content_hash))))),
        )
      : h("p", { class: "empty" }, "No documents attached."),
  );
}

export class PolicyView {
  constructor({ policies }) {
    this.policies = policies;
    this.id = null;
    this.diffs = new Map();
  }

  async show(id) {
    this.id = id;
    const body = byId("policy-body");
    const error = byId("policy-error");
    fill(body);
    notice(error, "");
    byId("policy-title").textContent = `Policy ${id}`;
    let policy;
    let partial = false;
    try {
      policy = await getPolicy(id);
    } catch (err) {
      if (id !== this.id || (err instanceof ApiError && err.status === 401)) return;
      // The list's summary still says what matters most (default, tools, warning) when the detail cannot be read.
      if (!this.policies.known.has(id)) await this.policies.load();
      policy = this.policies.known.get(id);
      if (!policy) return notice(error, `Could not load policy ${id}. ${describe(err)}`);
      partial = true;
      notice(error, missing(err) ? "This vault does not serve policy details yet; showing the summary from the list." : `Could not load the full policy. ${describe(err)}`);
    }
    if (id !== this.id) return;
    this.render(policy, partial);
    await this.loadVersions(id);
  }

  render(p, partial) {
    byId("policy-title").textContent = `Policy ${text(p.policy_id)}`;
    fill(
      byId("policy-body"),
      h("p", { class: "detail-sub" }, statusBadge(p.status), defaultBadge(p.default_decision)),
      partial && approvesByDefault(p) ? defaultApproveWarning("policy-detail-warning") : null,
      h(
        "div",
        { class: "detail-grid" },
        h(
          "div",
          { class: "detail-main" },
          section(
            "policy-summary-title",
            "Summary",
            p.description ? h("p", { class: "policy-description" }, p.description) : h("p", { class: "empty" }, "No description."),
            facts([
              ["Tools", toolsText(p.tools)],
              ["Status", p.status === "retired" ? "retired: it no longer judges requests" : "active"],
              ["Version", text(p.version)],
              ["Version id", p.policy_version_id ? h("code", {}, p.policy_version_id) : null],
              ["Content hash", p.content_hash ? h("code", { class: "hash" }, p.content_hash) : null],
              ["Registered", dateText(p.registered_at)],
            ]),
          ),
          partial ? null : conditionsSection(p),
          partial ? null : rulesSection(p),
        ),
        h("div", { class: "detail-side" }, section("policy-versions-title", "Versions", h("div", { id: "policy-versions" }, h("p", { class: "hint" }, "Loading versions…")))),
      ),
    );
  }

  async loadVersions(id) {
    let answer;
    try {
      answer = await listPolicyVersions(id);
    } catch (err) {
      if (id !== this.id || (err instanceof ApiError && err.status === 401)) return;
      const target = document.getElementById("policy-versions");
      if (target) fill(target, h("p", { class: "empty" }, missing(err) ? "This vault does not list policy versions yet." : `Could not load the versions. ${describe(err)}`));
      return;
    }
    const target = document.getElementById("policy-versions");
    if (id !== this.id || !target) return;
    const versions = Array.isArray(answer?.versions) ? answer.versions : [];
    fill(
      target,
      versions.length
        ? h("ol", { class: "versions", "aria-label": "Versions, newest first", reversed: true }, versions.map((v) => this.versionItem(id, v)))
        : h("p", { class: "empty" }, "No versions."),
    );
  }

  versionItem(id, v) {
    const out = h("pre", { class: "json diff", tabindex: "0", "aria-label": `Changes in version ${text(v.version)}`, hidden: true });
    const button = h("button", { type: "button", class: "button", "aria-expanded": "false" }, "Show changes", h("span", { class: "visually-hidden" }, ` in version ${text(v.version)}`));
    button.addEventListener("click", async () => {
      const open = button.getAttribute("aria-expanded") === "true";
      button.setAttribute("aria-expanded", String(!open));
      out.hidden = open;
      if (open || out.textContent) return;
      out.textContent = "Loading…";
      try {
        const answer = await policyDiff(id, v.version);
        out.textContent = answer?.diff ? answer.diff : "No changes.";
      } catch (err) {
        out.textContent = missing(err) ? "This vault does not serve policy diffs yet." : describe(err);
      }
    });
    return h(
      "li",
      { class: "version", "data-version": text(v.version, "") },
      h(
        "p",
        { class: "version-head" },
        h("strong", {}, `Version ${text(v.version)}`),
        " ",
        h("span", { class: `badge ${v.status === "retired" ? "badge-retired" : "badge-approved"}` }, v.status === "retired" ? "Retired" : "Active"),
        v.current ? h("span", { class: "badge badge-info" }, "Current") : null,
      ),
      h("p", { class: "hint" }, `registered ${dateText(v.registered_at)}`),
      v.content_hash ? h("p", {}, h("code", { class: "hash" }, v.content_hash)) : null,
      button,
      out,
    );
  }
}
