// Passkeys (issue 17): a reviewer enrols passkeys here, and signs approvals with one where the
// request's review rules require it. The vault keeps only public keys; each enrolment and removal
// is a ledger event, and each signed approval carries the assertion into the vote's ledger event,
// so an auditor can check offline that a person with this passkey approved exactly this action.
import { ApiError, listPasskeys, passkeyRegistrationOptions, passkeyVoteOptions, registerPasskey, removePasskey } from "./api.js";
import { byId, facts, fill, h, notice } from "./dom.js";
import { dateText, text } from "./format.js";
import { approveEnrolment, createPasskey, passkeysUnavailable, signWithPasskey } from "./webauthn.js";

const describe = (err) => (typeof err?.describe === "function" ? err.describe() : String(err?.message ?? err));
const passkeysOf = (page) => (Array.isArray(page?.passkeys) ? page.passkeys : []);

/** A credential id is long base64url; its start is enough to tell two apart on screen (the full id is in the title). */
const shortId = (id) => (typeof id === "string" && id.length > 24 ? `${id.slice(0, 20)}…` : text(id));

export class PasskeysView {
  constructor({ announce }) {
    this.announce = announce;
    this.list = byId("passkeys-list");
    byId("passkeys-refresh").addEventListener("click", () => void this.load());
    byId("passkeys-form").addEventListener("submit", (event) => {
      event.preventDefault();
      void this.enrol(event.submitter ?? event.target.querySelector("button"));
    });
  }

  async load() {
    const error = byId("passkeys-error");
    const unavailable = passkeysUnavailable();
    notice(byId("passkeys-unsupported"), unavailable);
    byId("passkeys-form").querySelector("button").disabled = Boolean(unavailable);
    this.list.setAttribute("aria-busy", "true");
    try {
      const passkeys = passkeysOf(await listPasskeys());
      fill(this.list, passkeys.map((p) => this.item(p)));
      byId("passkeys-empty").hidden = passkeys.length > 0;
      notice(error, "");
      return passkeys.length;
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) notice(error, `Could not load your passkeys. ${describe(err)}`);
      return null;
    } finally {
      this.list.removeAttribute("aria-busy");
    }
  }

  async enrol(button) {
    const status = byId("passkeys-form-status");
    const label = byId("passkey-label").value.trim();
    button.disabled = true;
    notice(status, "");
    try {
      // The vault's options first (they name the reviewer and exclude passkeys already enrolled). A
      // reviewer who has a passkey approves the new one with it first (the vault's `step_up`: a stolen
      // key or session alone cannot add a passkey), then the authenticator creates the new one.
      const { step_up: stepUp, ...creation } = await passkeyRegistrationOptions();
      if (stepUp) notice(status, "First confirm with a passkey you already have, then create the new one.");
      const assertion = stepUp ? await approveEnrolment(stepUp) : undefined;
      const response = await createPasskey(creation);
      const enrolled = await registerPasskey(response, label, assertion);
      notice(status, "");
      byId("passkeys-form").reset();
      this.announce(`Passkey ${text(enrolled?.label || label, "without a label")} enrolled.`);
      await this.load();
    } catch (err) {
      notice(status, describe(err));
    } finally {
      button.disabled = Boolean(passkeysUnavailable());
    }
  }

  item(p) {
    const status = h("p", { role: "status", class: "hint" });
    const name = text(p.label, "Passkey without a label");
    const remove = h("button", { type: "button", class: "button button-deny" }, "Remove", h("span", { class: "visually-hidden" }, ` ${name}`));
    remove.addEventListener("click", async () => {
      if (!window.confirm(`Remove the passkey ${name}? Approvals it signed stay verifiable; it cannot sign new ones.`)) return;
      remove.disabled = true;
      try {
        await removePasskey(p.id);
        this.announce(`Passkey ${name} removed.`);
        await this.load();
      } catch (err) {
        status.textContent = describe(err);
        remove.disabled = false;
      }
    });
    return h(
      "li",
      { class: "review-item", "data-passkey-id": text(p.id, "") },
      h("div", { class: "review-item-head" }, h("strong", {}, name)),
      facts([
        ["Credential", h("code", { title: text(p.credential_id, "") }, shortId(p.credential_id))],
        ["Algorithm", p.alg === -7 ? "ES256 (P-256)" : p.alg === -8 ? "Ed25519" : p.alg !== undefined ? text(p.alg) : null],
        ["Enrolled", dateText(p.created_at)],
        ["Last used", p.last_used_at ? dateText(p.last_used_at) : null],
        ["Enrolment event", p.enrolment_event_uuid ? h("code", {}, text(p.enrolment_event_uuid)) : null],
      ]),
      h("div", { class: "item-actions" }, remove),
      status,
    );
  }
}

/**
 * For the vote form of a request whose rules require a passkey: a note saying so, and, once the
 * reviewer's passkeys are known, the block when they have none (the vault refuses such an approval
 * with passkey_required; denying never needs one). `setBlocked(true)` keeps Approve disabled.
 */
export function passkeyNote(setBlocked) {
  const note = h("p", { class: "notice notice-info", id: "passkey-note", role: "status" }, "Approving this request needs your passkey: your browser will ask you to confirm with it.");
  const unavailable = passkeysUnavailable();
  const block = (message) => {
    note.className = "notice notice-warn";
    fill(note, message, " ", h("a", { href: "#/passkeys" }, "Enrol a passkey"));
    setBlocked(true);
  };
  if (unavailable) block(`${unavailable} You may still deny.`);
  else
    listPasskeys().then(
      (page) => passkeysOf(page).length === 0 && block("You have no passkey: enrol a passkey to approve; you may still deny."),
      // Unknown: leave Approve to the vault, whose answer (passkey_required) is shown if it comes to that.
      () => {},
    );
  return note;
}

/**
 * For a request that does not require a passkey: signing anyway is offered to a reviewer who has one
 * (the vault verifies and records it like a required one, and the token names it: a stronger approval).
 */
export function passkeyOptIn() {
  const box = h("input", { type: "checkbox", id: "passkey-sign", "aria-describedby": "passkey-sign-hint" });
  const element = h(
    "div",
    { hidden: true, id: "passkey-opt-in" },
    h("span", { class: "checkbox" }, box, h("label", { for: "passkey-sign", class: "inline-label" }, "Sign my approval with my passkey")),
    h("p", { class: "hint", id: "passkey-sign-hint" }, "Optional here: the signature binds your approval to this exact request, for the agent's token and the ledger."),
  );
  if (!passkeysUnavailable())
    listPasskeys().then((page) => {
      // data-passkeys: the count it was decided on (a page or test can tell "none" from "not known yet").
      element.dataset.passkeys = String(passkeysOf(page).length);
      element.hidden = passkeysOf(page).length === 0;
    }, () => {});
  return { element, wanted: () => !element.hidden && box.checked };
}

/**
 * Signs the approval: the vault's options carry the commitment to this request and to `fields` (the
 * vote's grant and edited arguments, exactly as they will be sent), the authenticator signs it, and
 * the assertion goes into the vote as `passkey`. A changed field after signing fails at the vault.
 */
export async function signApproval(requestId, fields) {
  const committed = {};
  for (const key of ["grant", "edited_tool_args"]) if (fields[key] !== undefined) committed[key] = fields[key];
  return signWithPasskey(await passkeyVoteOptions(requestId, committed));
}
