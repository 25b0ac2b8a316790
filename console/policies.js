// The tenant's policies (reviewers and admins): what each decides when none of its conditions
// matches. A default of "approve" is called out, because a request nobody wrote a condition for is
// then approved with a token without any human seeing it (issue 11, item 1).
import { ApiError, listPolicies } from "./api.js";
import { byId, fill, h, notice } from "./dom.js";
import { dateText, text } from "./format.js";

const defaultLabels = { approve: "Default: approve", review: "Default: review", deny: "Default: deny" };
const defaultBadges = { approve: "badge-warn", review: "badge-info", deny: "badge-denied" };

/** The one wording of the warning, shared with the request detail page. */
export const DEFAULT_APPROVE_WARNING = "Approves by default: a request that none of this policy's conditions matches is approved automatically, with a token, unless another policy or the judge decides otherwise.";

/** A visible warning paragraph; role="note" (not "alert"): it is standing information, read in order, not an interruption. */
export function defaultApproveWarning(id) {
  return h("p", { class: "notice notice-warn policy-warning", role: "note", id }, h("strong", {}, "Warning: "), DEFAULT_APPROVE_WARNING);
}

export class PoliciesView {
  constructor() {
    this.list = byId("policies-list");
    byId("policies-refresh").addEventListener("click", () => this.load());
  }

  async load() {
    const error = byId("policies-error");
    this.list.setAttribute("aria-busy", "true");
    try {
      const { policies } = await listPolicies();
      fill(this.list, policies.map((p, i) => this.item(p, i)));
      byId("policies-empty").hidden = policies.length > 0;
      notice(error, "");
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) notice(error, `Could not load policies. ${err instanceof ApiError ? err.describe() : String(err)}`);
    } finally {
      this.list.removeAttribute("aria-busy");
    }
  }

  item(p, i) {
    const approves = p.default_decision === "approve" || (Array.isArray(p.warnings) && p.warnings.some((w) => w?.code === "default_approve"));
    const warningId = `policy-warning-${i}`;
    const tools = Array.isArray(p.tools) && p.tools.length ? p.tools.join(", ") : "every tool";
    return h(
      "li",
      { class: `review-item${approves ? " policy-approves" : ""}`, "data-policy-id": p.policy_id, "aria-describedby": approves ? warningId : null },
      h(
        "div",
        { class: "review-item-head" },
        h("h2", { class: "policy-name" }, h("code", {}, text(p.policy_id))),
        h("span", { class: `badge ${defaultBadges[p.default_decision] ?? "badge-processing"}` }, defaultLabels[p.default_decision] ?? `Default: ${text(p.default_decision)}`),
      ),
      approves ? defaultApproveWarning(warningId) : null,
      p.description ? h("p", { class: "review-reason policy-description" }, p.description) : null,
      h(
        "ul",
        { class: "facts", "aria-label": "Details" },
        h("li", {}, "Tools ", h("strong", {}, tools)),
        h("li", {}, `${p.condition_count ?? 0} ${p.condition_count === 1 ? "condition" : "conditions"}`),
        h("li", {}, `version ${text(p.version)}`),
        h("li", {}, `registered ${dateText(p.registered_at)}`),
      ),
    );
  }
}
