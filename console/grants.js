// Scoped grants and edit-on-approve (docs/grants.md): the approve form's grant options (scope,
// minutes, a constraint shown in plain words as it is typed) and edited-arguments editor, what a
// request's page says about grants, and the Grants page with revoke. The plain words come from the
// vault (POST /grants/describe-constraint): one implementation, over the CEL parser it evaluates with.
import { ApiError, describeConstraint, listGrants, revokeGrant } from "./api.js";
import { byId, facts, fill, h, notice, section } from "./dom.js";
import { dateText, prettyJson, text } from "./format.js";

const SCOPES = [
  ["once", "Only this request"],
  ["session", "This agent's session"],
  ["window", "This agent, for a time window"],
];

/** "window 60 min where …" for a stored or typed grant spec. */
function specText(grant) {
  if (!grant || grant.scope === "once") return "no grant (only this request)";
  return `${grant.scope}${grant.window_minutes ? ` ${grant.window_minutes} min` : ""}${grant.constraint ? ` where ${grant.constraint}` : ""}`;
}

/**
 * The grant options and the arguments editor of the approve form. `fields()` gives the vote's
 * `grant` and `edited_tool_args` (throwing an Error with describe() when the arguments are not a JSON
 * object). When an earlier approval set terms, they are filled in: every approval must repeat them.
 */
export function approvalTerms(review) {
  const first = review.approval_terms ?? null;
  const scope = h("select", { id: "grant-scope", name: "grant_scope", "aria-describedby": "grant-hint" }, SCOPES.map(([value, label]) => h("option", { value, disabled: value === "session" && !review.session_id }, label)));
  const minutes = h("input", { id: "grant-minutes", name: "window_minutes", type: "number", min: "1", max: "43200", step: "1", value: "60", inputmode: "numeric" });
  const minutesRow = h("div", { id: "grant-minutes-row", hidden: true }, h("label", { for: "grant-minutes" }, "Minutes"), minutes);
  const constraint = h("input", { id: "grant-constraint", name: "constraint", type: "text", spellcheck: "false", autocomplete: "off", maxlength: "2000", placeholder: 'args.amount <= 200 && args.currency == "usd"', "aria-describedby": "grant-constraint-words" });
  const words = h("p", { id: "grant-constraint-words", class: "hint constraint-words", role: "status", "aria-live": "polite" }, "Applies to any arguments.");
  const constraintRow = h("div", { id: "grant-constraint-row", hidden: true }, h("label", { for: "grant-constraint" }, "Only where (CEL over args, optional)"), constraint, words);
  const editing = h("input", { type: "checkbox", id: "edit-args", name: "edit_args" });
  const edited = h("textarea", { id: "edited-args", name: "edited_tool_args", rows: "6", spellcheck: "false", "aria-label": "Edited arguments (JSON)", hidden: true }, prettyJson(review.tool_args ?? {}));
  const note = first
    ? h("p", { class: "notice notice-warn", id: "terms-note" }, `The first approval granted ${specText(first.grant)}${first.edited_tool_args ? " with edited arguments" : ""}; your approval must carry the same, or deny.`)
    : null;

  let timer = null;
  let asked = 0;
  const render = () => {
    const expr = constraint.value.trim();
    clearTimeout(timer);
    if (!expr) {
      words.textContent = "Applies to any arguments.";
      constraint.removeAttribute("aria-invalid");
      return;
    }
    timer = setTimeout(async () => {
      const mine = ++asked;
      try {
        const out = await describeConstraint(expr);
        if (mine !== asked) return;
        words.textContent = out.valid ? `Applies only when ${out.words}.` : `Not a valid constraint: ${out.error}`;
        if (out.valid) constraint.removeAttribute("aria-invalid");
        else constraint.setAttribute("aria-invalid", "true");
      } catch (err) {
        if (mine === asked) words.textContent = err instanceof ApiError ? err.describe() : String(err);
      }
    }, 250);
  };
  const sync = () => {
    minutesRow.hidden = scope.value !== "window";
    constraintRow.hidden = scope.value === "once";
  };
  scope.addEventListener("change", sync);
  constraint.addEventListener("input", render);
  editing.addEventListener("change", () => {
    edited.hidden = !editing.checked;
    if (editing.checked) edited.focus();
  });

  if (first?.grant) {
    scope.value = first.grant.scope;
    if (first.grant.window_minutes) minutes.value = String(first.grant.window_minutes);
    constraint.value = first.grant.constraint ?? "";
  }
  if (first?.edited_tool_args) {
    editing.checked = true;
    edited.hidden = false;
    edited.value = prettyJson(first.edited_tool_args);
  }
  sync();
  render();

  const element = h(
    "fieldset",
    { class: "grant-options", id: "grant-options" },
    h("legend", {}, "Approve for"),
    note,
    h("label", { for: "grant-scope" }, "Scope"),
    scope,
    minutesRow,
    constraintRow,
    h(
      "p",
      { class: "hint", id: "grant-hint" },
      `A session or window grant approves this agent's later ${text(review.tool_name)} requests under policy ${text(review.policy_id, "?")} that the policy would send to review, until it ends or is revoked. It never overrides a deny or review condition of the policy.`,
    ),
    h("span", { class: "checkbox" }, editing, h("label", { for: "edit-args", class: "inline-label" }, "Edit the arguments before approving")),
    edited,
  );

  function fields() {
    const out = {};
    if (scope.value !== "once") {
      out.grant = { scope: scope.value };
      if (scope.value === "window") out.grant.window_minutes = Number(minutes.value);
      if (constraint.value.trim()) out.grant.constraint = constraint.value.trim();
    }
    if (editing.checked) {
      let parsed;
      try {
        parsed = JSON.parse(edited.value);
      } catch {
        parsed = undefined;
      }
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
        edited.setAttribute("aria-invalid", "true");
        const error = new Error("The edited arguments must be a JSON object");
        error.describe = () => "The edited arguments must be a JSON object.";
        throw error;
      }
      edited.removeAttribute("aria-invalid");
      out.edited_tool_args = parsed;
    }
    return out;
  }
  return { element, fields };
}

/** What the reviewer typed in the grant options, kept across a re-render of the page. */
export function keepTerms() {
  const value = (id) => document.getElementById(id)?.value;
  return { scope: value("grant-scope"), minutes: value("grant-minutes"), constraint: value("grant-constraint"), editing: document.getElementById("edit-args")?.checked, edited: value("edited-args") };
}

export function restoreTerms(kept) {
  const set = (id, v) => {
    const el = document.getElementById(id);
    if (el && v !== undefined) el.value = v;
  };
  set("grant-scope", kept.scope);
  set("grant-minutes", kept.minutes);
  set("grant-constraint", kept.constraint);
  set("edited-args", kept.edited);
  const box = document.getElementById("edit-args");
  if (box && kept.editing) box.checked = true;
  for (const id of ["grant-scope", "grant-constraint", "edit-args"]) document.getElementById(id)?.dispatchEvent(new Event(id === "grant-constraint" ? "input" : "change"));
}

/** A request's page: the arguments approved when edited, the grant that approved it, the grant it created. */
export function grantFacts(r) {
  if (!r.edited_tool_args && !r.grant_id && !r.created_grant_id) return null;
  const link = (id) => h("a", { href: `#/grants`, "data-grant": id }, id);
  return section(
    "grant-facts-title",
    "Grants and edits",
    facts([
      ["Approved by grant", r.grant_id ? link(r.grant_id) : null],
      ["Created grant", r.created_grant_id ? link(r.created_grant_id) : null],
    ]),
    r.edited_tool_args ? [h("h3", {}, "Approved arguments (edited by the reviewers)"), h("pre", { class: "json", tabindex: "0", "aria-label": "Approved arguments" }, prettyJson(r.edited_tool_args))] : null,
  );
}

/** The Grants page: active (or all) grants, each revocable at once. */
export class GrantsView {
  constructor({ announce }) {
    this.announce = announce;
    this.list = byId("grants-list");
    byId("grants-refresh").addEventListener("click", () => void this.load());
    byId("grants-status").addEventListener("change", () => void this.load());
  }

  async load() {
    const error = byId("grants-error");
    this.list.setAttribute("aria-busy", "true");
    try {
      const page = await listGrants(byId("grants-status").value);
      fill(this.list, page.grants.map((g) => this.item(g)));
      byId("grants-empty").hidden = page.grants.length > 0;
      notice(error, "");
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) notice(error, `Could not load grants. ${err instanceof ApiError ? err.describe() : String(err)}`);
    } finally {
      this.list.removeAttribute("aria-busy");
    }
  }

  item(g) {
    const reasonId = `revoke-reason-${g.id}`;
    const status = h("p", { role: "status", class: "hint" });
    const reason = h("input", { id: reasonId, name: "reason", type: "text", maxlength: "500", autocomplete: "off" });
    const revoke = h("button", { type: "submit", class: "button button-deny" }, "Revoke", h("span", { class: "visually-hidden" }, ` grant ${g.id}`));
    const form = g.status === "active" ? h("form", { class: "decision", "data-revoke-form": g.id, novalidate: true }, h("label", { for: reasonId }, "Reason (recorded in the ledger)"), reason, revoke, status) : null;
    const li = h(
      "li",
      { class: "review-item", "data-grant-id": g.id },
      h("div", { class: "review-item-head" }, h("strong", {}, text(g.tool_name)), h("span", { class: `badge badge-grant-${g.status}` }, g.status), h("span", { class: "badge" }, g.scope === "window" ? `window ${g.window_minutes} min` : "session")),
      h("p", { class: "constraint-words" }, g.constraint ? `Only when ${text(g.constraint_words)}` : "Any arguments", g.constraint ? h("code", { class: "hint" }, ` ${g.constraint}`) : null),
      h(
        "ul",
        { class: "facts", "aria-label": "Details" },
        h("li", {}, `agent ${text(g.agent_id)}`),
        g.session_id ? h("li", {}, `session ${text(g.session_id)}`) : null,
        h("li", {}, `policy ${text(g.policy_id)}`),
        h("li", {}, `until ${dateText(g.expires_at)}`),
        h("li", {}, "from ", h("a", { href: `#/reviews/${encodeURIComponent(g.source_request_id)}` }, g.source_request_id)),
        h("li", {}, `approved by ${g.approvers.map((a) => `${text(a.reviewer_name)}${a.passkey ? " (passkey)" : ""}`).join(", ")}`),
        g.revoked_at ? h("li", {}, `revoked ${dateText(g.revoked_at)}${g.revoke_reason ? `: ${text(g.revoke_reason)}` : ""}`) : null,
        h("li", {}, "Grant ", h("code", {}, g.id)),
      ),
      form,
    );
    form?.addEventListener("submit", async (event) => {
      event.preventDefault();
      revoke.disabled = true;
      try {
        const done = await revokeGrant(g.id, reason.value.trim());
        li.replaceWith(this.item(done));
        this.announce(`Grant ${g.id} revoked.`);
      } catch (err) {
        status.textContent = err instanceof ApiError ? err.describe() : String(err);
        revoke.disabled = false;
      }
    });
    return li;
  }
}
