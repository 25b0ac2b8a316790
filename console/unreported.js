// Burned, never reported (lost-consume recovery): tokens burned longer ago than the vault's
// VAULT_EXECUTION_REPORT_TIMEOUT_SECONDS with no execution report, so the action may or may not have
// run. A reviewer finds out what happened and closes each one as outcome "unknown" with a note,
// which the vault records in the ledger as the token's execution (token.executed).
import { ApiError, closeUnreported, listUnreported } from "./api.js";
import { byId, fill, h, notice } from "./dom.js";
import { dateText, duration, text } from "./format.js";

export class UnreportedView {
  constructor({ announce }) {
    this.announce = announce;
    this.list = byId("unreported-list");
    this.cursor = null;
    byId("unreported-refresh").addEventListener("click", () => void this.load());
    byId("unreported-more").addEventListener("click", () => void this.load(this.cursor));
  }

  /** The first page, or the next one after `cursor`. Resolves to the count shown, or null on failure. */
  async load(cursor = null) {
    const error = byId("unreported-error");
    this.list.setAttribute("aria-busy", "true");
    try {
      const page = await listUnreported(cursor);
      const items = page.tokens.map((t) => this.item(t));
      if (cursor) this.list.append(...items);
      else fill(this.list, items);
      this.cursor = page.next_cursor;
      byId("unreported-more").hidden = !page.next_cursor;
      byId("unreported-timeout").textContent = duration(page.timeout_seconds);
      byId("unreported-empty").hidden = this.list.childElementCount > 0;
      notice(error, "");
      return this.list.childElementCount;
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) notice(error, `Could not load unreported burns. ${err instanceof ApiError ? err.describe() : String(err)}`);
      return null;
    } finally {
      this.list.removeAttribute("aria-busy");
    }
  }

  clear() {
    fill(this.list);
    this.cursor = null;
  }

  item(t) {
    const id = `close-note-${t.jti}`;
    const status = h("p", { role: "status", class: "hint" });
    const note = h("textarea", { id, name: "note", rows: "2", maxlength: "500", required: true });
    const close = h("button", { type: "submit", class: "button" }, "Close as unknown", h("span", { class: "visually-hidden" }, ` token ${t.jti}`));
    const form = h("form", { class: "decision", "data-close-form": t.jti, novalidate: true }, h("label", { for: id }, "What happened (recorded in the ledger)"), note, close, status);
    const li = h(
      "li",
      { class: "review-item", "data-jti": t.jti },
      h("div", { class: "review-item-head" }, h("strong", {}, text(t.tool)), h("span", { class: "badge badge-pending_review" }, "Never reported")),
      h(
        "ul",
        { class: "facts", "aria-label": "Details" },
        h("li", {}, "Request ", h("a", { href: `#/reviews/${encodeURIComponent(t.request_id)}` }, t.request_id)),
        h("li", {}, "Token ", h("code", {}, t.jti)),
        h("li", {}, `agent ${text(t.agent_id)}`),
        h("li", {}, `burned ${dateText(t.consumed_at)} by key ${text(t.consumed_by)}`),
      ),
      form,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const written = note.value.trim();
      if (!written) {
        status.textContent = "Write what you found out before closing it.";
        note.setAttribute("aria-invalid", "true");
        note.focus();
        return;
      }
      close.disabled = true;
      try {
        await closeUnreported(t.jti, written);
        li.remove();
        byId("unreported-empty").hidden = this.list.childElementCount > 0;
        this.announce(`Token ${t.jti} closed as outcome unknown.`);
      } catch (err) {
        status.textContent = err instanceof ApiError ? err.describe() : String(err);
        close.disabled = false;
      }
    });
    return li;
  }
}
