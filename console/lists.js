// The pending queue (kept live by the stream) and the history of decided requests, reviewed or not.
import { ApiError, listReviews } from "./api.js";
import { byId, fill, h, notice } from "./dom.js";
import { ageText, approvalsText, dateText, expiryText, isExpired, statusOf, text } from "./format.js";

const reviewHref = (id) => `#/reviews/${encodeURIComponent(id)}`;

/** How the request was decided: by reviewers, or by the policy's conditions or the judge alone. */
const decidedByLabels = { review: "Reviewed", automatic: "Decided automatically" };

export function statusBadge(review) {
  const s = statusOf(review);
  return h("span", { class: `badge badge-${s.key}` }, s.label);
}

/** One request as a list item; the whole title is the link, so it is one tab stop. */
function reviewItem(review, { live }) {
  const pending = review.status === "pending_review";
  return h(
    "li",
    { class: "review-item", "data-request-id": review.request_id },
    h(
      "div",
      { class: "review-item-head" },
      h("a", { href: reviewHref(review.request_id), class: "review-link" }, h("span", { class: "tool" }, text(review.tool_name)), " ", h("span", { class: "visually-hidden" }, `request ${review.request_id}`)),
      statusBadge(review),
    ),
    h("p", { class: "review-reason" }, text(review.reason, "No reason given")),
    h(
      "ul",
      { class: "facts", "aria-label": "Details" },
      h("li", {}, "Agent ", h("strong", {}, text(review.agent_id))),
      review.human_principal ? h("li", {}, "For ", h("strong", {}, review.human_principal)) : null,
      review.policy_id ? h("li", {}, "Policy ", h("strong", {}, review.policy_id)) : null,
      pending ? h("li", {}, approvalsText(review.approvals)) : h("li", {}, `Decided ${dateText(review.decided_at)}`),
      !pending && review.decided_by ? h("li", { class: "decided-by" }, decidedByLabels[review.decided_by] ?? text(review.decided_by)) : null,
      h("li", { "data-age": review.created_at }, ageText(review.created_at)),
      pending && live
        ? h("li", { "data-expires": review.expires_at ?? "", class: isExpired(review.expires_at) ? "urgent" : null }, expiryText(review.expires_at))
        : null,
    ),
  );
}

/** The pending queue: a map of request id → summary, sorted oldest first (as the API orders it). */
export class QueueView {
  constructor({ announce, onCount }) {
    this.items = new Map();
    this.cursor = null;
    this.loaded = false;
    this.loadSeq = 0;
    this.inFlight = null;
    this.announce = announce;
    this.onCount = onCount;
    this.list = byId("queue-list");
    byId("queue-refresh").addEventListener("click", () => this.load(true));
    byId("queue-more").addEventListener("click", () => this.loadMore());
  }

  /**
   * Replaces the queue with a fresh snapshot. Stream events that arrive while the snapshot is in
   * flight are replayed on top of it (they are full summaries, so replaying is idempotent), and only
   * the newest of overlapping loads is applied.
   */
  async load(announceResult = false) {
    const error = byId("queue-error");
    const seq = ++this.loadSeq;
    this.inFlight = [];
    this.list.setAttribute("aria-busy", "true");
    try {
      const page = await listReviews("pending", null, 100);
      if (seq !== this.loadSeq) return;
      this.items = new Map(page.reviews.map((r) => [r.request_id, r]));
      for (const r of this.inFlight) this.upsert(r);
      this.cursor = page.next_cursor;
      this.loaded = true;
      notice(error, "");
      if (announceResult) this.announce(`Queue refreshed: ${this.items.size} pending.`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return;
      notice(error, `Could not load the queue. ${err instanceof ApiError ? err.describe() : String(err)}`);
    } finally {
      if (seq === this.loadSeq) {
        this.inFlight = null;
        this.list.removeAttribute("aria-busy");
        this.render();
      }
    }
  }

  async loadMore() {
    if (!this.cursor) return;
    try {
      const page = await listReviews("pending", this.cursor, 100);
      for (const r of page.reviews) this.items.set(r.request_id, r);
      this.cursor = page.next_cursor;
      this.render();
    } catch (err) {
      notice(byId("queue-error"), err instanceof ApiError ? err.describe() : String(err));
    }
  }

  /** A review event from the stream: add or update a pending request, drop a decided one. */
  apply(review) {
    this.inFlight?.push(review);
    const change = this.upsert(review);
    if (change === "added") this.announce(`New request to review: ${text(review.tool_name)} from ${text(review.agent_id)}.`);
    if (change === "removed") this.announce(`${text(review.tool_name)} request was ${statusOf(review).label.toLowerCase()}; removed from the queue.`);
    this.render();
  }

  upsert(review) {
    const known = this.items.has(review.request_id);
    if (review.status === "pending_review") {
      this.items.set(review.request_id, review);
      return known ? "updated" : "added";
    }
    if (known) this.items.delete(review.request_id);
    return known ? "removed" : "none";
  }

  clear() {
    this.loadSeq++;
    this.items.clear();
    this.loaded = false;
    this.cursor = null;
    this.render();
  }

  render() {
    const sorted = [...this.items.values()].sort((a, b) => String(a.created_at).localeCompare(String(b.created_at)));
    // Keep focus on the link the user was on when the list re-renders under them.
    const focusedId = document.activeElement?.closest?.("#queue-list [data-request-id]")?.getAttribute("data-request-id");
    fill(this.list, sorted.map((r) => reviewItem(r, { live: true })));
    if (focusedId) this.list.querySelector(`[data-request-id="${CSS.escape(focusedId)}"] a`)?.focus();
    byId("queue-empty").hidden = !this.loaded || sorted.length > 0;
    byId("queue-more").hidden = !this.cursor;
    this.onCount(sorted.length);
  }
}

export class HistoryView {
  constructor() {
    this.cursor = null;
    this.list = byId("history-list");
    this.select = byId("history-status");
    this.decidedBy = byId("history-decided-by");
    this.select.addEventListener("change", () => this.load());
    this.decidedBy.addEventListener("change", () => this.load());
    this.seq = 0;
    byId("history-refresh").addEventListener("click", () => this.load());
    byId("history-more").addEventListener("click", () => this.load(this.cursor));
  }

  async load(cursor = null) {
    const error = byId("history-error");
    // Only the newest load is shown: a filter changed twice quickly must not end on the older answer.
    const seq = ++this.seq;
    this.list.setAttribute("aria-busy", "true");
    try {
      const page = await listReviews(this.select.value, cursor, 50, this.decidedBy.value);
      if (seq !== this.seq) return;
      const items = page.reviews.map((r) => reviewItem(r, { live: false }));
      if (cursor) this.list.append(...items);
      else fill(this.list, items);
      this.cursor = page.next_cursor;
      notice(error, "");
      byId("history-empty").hidden = this.list.childElementCount > 0;
    } catch (err) {
      if (seq !== this.seq || (err instanceof ApiError && err.status === 401)) return;
      notice(error, `Could not load the history. ${err instanceof ApiError ? err.describe() : String(err)}`);
    } finally {
      if (seq === this.seq) {
        this.list.removeAttribute("aria-busy");
        byId("history-more").hidden = !this.cursor;
      }
    }
  }

  /** Keeps a loaded history current when a request is decided elsewhere. */
  apply(review) {
    const existing = this.list.querySelector(`[data-request-id="${CSS.escape(review.request_id)}"]`);
    if (existing) existing.replaceWith(reviewItem(review, { live: false }));
  }
}

/** Refreshes every age and countdown on the page; called once a second. */
export function tickTimes(root = document) {
  for (const el of root.querySelectorAll("[data-age]")) el.textContent = ageText(el.getAttribute("data-age"));
  for (const el of root.querySelectorAll("[data-expires]")) {
    const at = el.getAttribute("data-expires") || null;
    el.textContent = expiryText(at);
    el.classList.toggle("urgent", isExpired(at));
  }
}
