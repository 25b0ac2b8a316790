// Agent claims (issue 16, Sigilum profile): an agent's request to use a protected service with its
// Ed25519 key. A claim is reviewed as a clearance request of its own, so approving or rejecting one
// is a vote on that review (quorum, separation of duties and the ledger apply); revoking an approved
// claim is a reviewer action of its own. Claim fields come from the agent: text nodes only.
import { ApiError, decide, listAgentClaims, revokeAgentClaim } from "./api.js";
import { byId, facts, fill, h, notice } from "./dom.js";
import { dateText, text } from "./format.js";

const describe = (err) => (err instanceof ApiError ? err.describe() : String(err));
const badgeClass = { pending: "badge-pending_review", approved: "badge-approved", rejected: "badge-denied", revoked: "badge-expired" };

export class AgentClaimsView {
  constructor({ announce }) {
    this.announce = announce;
    this.list = byId("claims-list");
    byId("claims-refresh").addEventListener("click", () => void this.load());
    byId("claims-status").addEventListener("change", () => void this.load());
  }

  async load() {
    const error = byId("claims-error");
    this.list.setAttribute("aria-busy", "true");
    try {
      const page = await listAgentClaims(byId("claims-status").value);
      const claims = Array.isArray(page?.claims) ? page.claims : [];
      fill(this.list, claims.map((c) => this.item(c)));
      byId("claims-empty").hidden = this.list.childElementCount > 0;
      notice(error, "");
      return this.list.childElementCount;
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) notice(error, `Could not load agent claims. ${describe(err)}`);
      return null;
    } finally {
      this.list.removeAttribute("aria-busy");
    }
  }

  clear() {
    fill(this.list);
  }

  /** Runs one action of an item, showing the vault's answer in the item's status line, then reloads. */
  async act(buttons, status, run, done) {
    for (const b of buttons) b.disabled = true;
    try {
      await run();
      this.announce(done);
      await this.load();
    } catch (err) {
      status.textContent = describe(err);
      for (const b of buttons) b.disabled = false;
    }
  }

  item(c) {
    const status = h("p", { role: "status", class: "hint" });
    const who = text(c.agent_name, text(c.agent_id, c.claim_id));
    const hidden = (label) => h("span", { class: "visually-hidden" }, ` ${label} ${text(c.claim_id)}`);
    const actions = [];
    if (c.status === "pending" && c.request_id) {
      const approve = h("button", { type: "button", class: "button button-approve" }, "Approve", hidden("claim"));
      const reject = h("button", { type: "button", class: "button button-deny" }, "Reject", hidden("claim"));
      const both = [approve, reject];
      approve.addEventListener("click", () => void this.act(both, status, () => decide(c.request_id, true), `Your approval of claim ${c.claim_id} was recorded.`));
      reject.addEventListener("click", () => void this.act(both, status, () => decide(c.request_id, false), `Your rejection of claim ${c.claim_id} was recorded.`));
      actions.push(approve, reject);
    }
    let reasonField = null;
    if (c.status === "approved") {
      const id = `revoke-reason-${c.claim_id}`;
      const reason = h("input", { id, type: "text", maxlength: "500", autocomplete: "off" });
      reasonField = h("div", {}, h("label", { for: id }, "Reason for revoking (optional)"), reason);
      const revoke = h("button", { type: "button", class: "button button-deny" }, "Revoke", hidden("claim"));
      revoke.addEventListener("click", () => void this.act([revoke], status, () => revokeAgentClaim(c.claim_id, reason.value.trim()), `Claim ${c.claim_id} revoked.`));
      actions.push(revoke);
    }
    return h(
      "li",
      { class: "review-item", "data-claim-id": text(c.claim_id, "") },
      h("div", { class: "review-item-head" }, h("strong", {}, who), h("span", { class: `badge ${badgeClass[c.status] ?? "badge-info"}` }, text(c.status))),
      facts([
        ["Service", h("code", {}, text(c.service))],
        ["Namespace", h("code", {}, text(c.namespace))],
        ["Public key", h("code", { class: "hash" }, text(c.public_key))],
        ["Subject", c.subject ? text(c.subject) : null],
        ["Agent IP", c.agent_ip ? text(c.agent_ip) : null],
        ["Claimed", dateText(c.created_at)],
        ["Approved", c.approved_at ? dateText(c.approved_at) : null],
        ["Revoked", c.revoked_at ? dateText(c.revoked_at) : null],
        ["Reason", c.reason ? text(c.reason) : null],
        ["Review", c.request_id ? h("a", { href: `#/reviews/${encodeURIComponent(c.request_id)}` }, c.request_id) : null],
      ]),
      reasonField,
      actions.length ? h("div", { class: "item-actions" }, actions) : null,
      status,
    );
  }
}
