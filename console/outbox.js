// Dead deliveries (admin sessions only): Slack, email and webhook messages that ran out of retries,
// so a lost notification is visible here instead of silently dropped, with a retry per entry.
import { ApiError, listDeadDeliveries, retryDelivery } from "./api.js";
import { byId, fill, h, notice } from "./dom.js";
import { dateText, text } from "./format.js";

const kinds = { webhook: "Webhook", slack: "Slack", email: "Email" };

export class OutboxView {
  constructor({ announce }) {
    this.announce = announce;
    this.list = byId("outbox-list");
    byId("outbox-refresh").addEventListener("click", () => this.load());
  }

  async load() {
    const error = byId("outbox-error");
    this.list.setAttribute("aria-busy", "true");
    try {
      const { entries } = await listDeadDeliveries();
      fill(this.list, entries.map((e) => this.item(e)));
      byId("outbox-empty").hidden = entries.length > 0;
      notice(error, "");
      return entries.length;
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) notice(error, `Could not load dead deliveries. ${err instanceof ApiError ? err.describe() : String(err)}`);
      return null;
    } finally {
      this.list.removeAttribute("aria-busy");
    }
  }

  item(e) {
    const status = h("p", { role: "status", class: "hint" });
    const retry = h("button", { type: "button", class: "button" }, "Retry", h("span", { class: "visually-hidden" }, ` ${text(e.event_type)} delivery ${e.delivery_id}`));
    retry.addEventListener("click", async () => {
      retry.disabled = true;
      try {
        await retryDelivery(e.delivery_id);
        status.textContent = "Queued for delivery again.";
        this.announce(`${text(e.event_type)} delivery queued again.`);
      } catch (err) {
        status.textContent = err instanceof ApiError ? err.describe() : String(err);
        retry.disabled = false;
      }
    });
    return h(
      "li",
      { class: "review-item", "data-delivery-id": e.delivery_id },
      h("div", { class: "review-item-head" }, h("strong", {}, `${kinds[e.kind] ?? text(e.kind)} · ${text(e.event_type)}`), h("span", { class: "badge badge-denied" }, "Dead")),
      h(
        "ul",
        { class: "facts", "aria-label": "Details" },
        e.request_id ? h("li", {}, "Request ", h("a", { href: `#/reviews/${encodeURIComponent(e.request_id)}` }, e.request_id)) : null,
        h("li", {}, `${e.attempts} attempts`),
        e.last_status ? h("li", {}, `last HTTP status ${e.last_status}`) : null,
        h("li", {}, `created ${dateText(e.created_at)}`),
      ),
      e.last_error ? h("p", { class: "review-reason" }, "Last error: ", h("code", {}, e.last_error)) : null,
      retry,
      status,
    );
  }
}
