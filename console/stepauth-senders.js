// StepAuth service providers (admin sessions only, issue 16): the SPs this tenant acts as the
// authorizer ("hub") for. Each is registered out of band with its entity, its public keyset(s) and
// the callback URL pattern the vault checks before every delivery of a decision.
import { addSender, ApiError, getStepAuthHub, listSenders, removeSender } from "./api.js";
import { byId, facts, fill, h, notice } from "./dom.js";
import { dateText, text } from "./format.js";

const describe = (err) => (err instanceof ApiError ? err.describe() : String(err));

/** The keysets the form's JSON names: one keyset object, or an array of them. Null with a message otherwise. */
export function keysetsFrom(json) {
  let value;
  try {
    value = JSON.parse(json);
  } catch {
    return { error: "The keyset is not valid JSON." };
  }
  const keysets = Array.isArray(value) ? value : [value];
  if (keysets.length === 0 || keysets.some((k) => !k || typeof k !== "object")) return { error: "Give a keyset object (or an array of them)." };
  return { keysets };
}

/** A keyset in one line: its id and algorithms, or a seed-era key's id. */
function keysetText(k) {
  if (Array.isArray(k?.keys)) return `${text(k.keysetId)} (${k.keys.map((x) => text(x?.alg, "?")).join(" + ")})`;
  if (k?.keyId) return `${text(k.keyId)} (ed25519, seed era)`;
  return text(k?.keysetId, "keyset");
}

export class SendersView {
  constructor({ announce }) {
    this.announce = announce;
    this.list = byId("senders-list");
    byId("senders-refresh").addEventListener("click", () => void this.load());
    byId("senders-form").addEventListener("submit", (event) => {
      event.preventDefault();
      void this.add(event.submitter ?? event.target.querySelector("button"));
    });
  }

  async load() {
    const error = byId("senders-error");
    this.list.setAttribute("aria-busy", "true");
    try {
      const [page, hub] = await Promise.all([listSenders(), getStepAuthHub().catch(() => null)]);
      const senders = Array.isArray(page?.senders) ? page.senders : [];
      fill(this.list, senders.map((s) => this.item(s)));
      byId("senders-empty").hidden = senders.length > 0;
      byId("senders-hub").hidden = !hub;
      fill(
        byId("senders-hub"),
        hub
          ? facts([
              ["Hub entity", h("code", {}, text(hub.entity))],
              ["Metadata", hub.host ? h("code", {}, `${hub.host}/v1/metadata`) : null],
              ["Hub keysets", Array.isArray(hub.keysets) ? hub.keysets.map(keysetText).join(", ") : null],
            ])
          : null,
      );
      notice(error, "");
      return senders.length;
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) notice(error, `Could not load the service providers. ${describe(err)}`);
      return null;
    } finally {
      this.list.removeAttribute("aria-busy");
    }
  }

  async add(button) {
    const status = byId("senders-form-status");
    const entity = byId("sender-entity").value.trim();
    const pattern = byId("sender-callback").value.trim();
    const parsed = keysetsFrom(byId("sender-keyset").value);
    const missing = !entity ? ["sender-entity", "Enter the SP's entity."] : parsed.error ? ["sender-keyset", parsed.error] : !pattern ? ["sender-callback", "Enter the callback URL pattern."] : null;
    for (const id of ["sender-entity", "sender-keyset", "sender-callback"]) byId(id).removeAttribute("aria-invalid");
    if (missing) {
      notice(status, missing[1]);
      byId(missing[0]).setAttribute("aria-invalid", "true");
      byId(missing[0]).focus();
      return;
    }
    button.disabled = true;
    try {
      await addSender(entity, parsed.keysets, pattern);
      notice(status, "");
      byId("senders-form").reset();
      this.announce(`Service provider ${entity} registered.`);
      await this.load();
    } catch (err) {
      notice(status, describe(err));
    } finally {
      button.disabled = false;
    }
  }

  item(s) {
    const status = h("p", { role: "status", class: "hint" });
    const remove = h("button", { type: "button", class: "button button-deny" }, "Remove", h("span", { class: "visually-hidden" }, ` ${text(s.entity)}`));
    remove.addEventListener("click", async () => {
      if (!window.confirm(`Remove ${text(s.entity)}? Its requests can no longer be submitted, polled or cancelled.`)) return;
      remove.disabled = true;
      try {
        await removeSender(s.id);
        this.announce(`Service provider ${text(s.entity)} removed.`);
        await this.load();
      } catch (err) {
        status.textContent = describe(err);
        remove.disabled = false;
      }
    });
    return h(
      "li",
      { class: "review-item", "data-sender-id": text(s.id, "") },
      h("div", { class: "review-item-head" }, h("strong", {}, text(s.entity)), s.disabled_at ? h("span", { class: "badge badge-denied" }, "Disabled") : null),
      facts([
        ["Keysets", Array.isArray(s.keysets) ? s.keysets.map(keysetText).join(", ") : null],
        ["Callback pattern", h("code", {}, text(s.callback_pattern))],
        ["Description", s.description ? text(s.description) : null],
        ["Registered", dateText(s.created_at)],
        ["Removed", s.disabled_at ? dateText(s.disabled_at) : null],
      ]),
      // Removing disables: the entity stays listed, so its past requests keep a name.
      s.disabled_at ? null : h("div", { class: "item-actions" }, remove),
      status,
    );
  }
}
