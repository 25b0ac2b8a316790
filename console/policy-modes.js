// Shadow mode on the Policies page (docs/shadow-mode.md): each policy's mode as a badge, and for
// admins a switch. A shadow policy is evaluated and recorded but does not decide.
import { h } from "./dom.js";

/**
 * The badge and (for admins) the switch of one policy. Switching to shadow takes a second, confirming
 * click, because it disarms the policy (the switch is a ledger event, and the tenant's channels are
 * notified); switching back to enforce is one click.
 */
export function modeControl(p, mode, { isAdmin, onSwitch }) {
  const shadow = mode === "shadow";
  const badge = shadow ? h("span", { class: "badge badge-warn badge-shadow" }, "Shadow: log-only") : null;
  if (!isAdmin()) return { badge, control: null };
  const label = shadow ? "Enforce again" : "Switch to shadow";
  const warning = h("p", { class: "notice notice-warn", role: "status", hidden: true }, "In shadow mode this policy no longer decides: its decisions are only recorded. Click again to confirm.");
  const button = h("button", { type: "button", class: "button mode-toggle", "data-mode": mode }, label, h("span", { class: "visually-hidden" }, ` (policy ${p.policy_id})`));
  button.addEventListener("click", async () => {
    if (!shadow && warning.hidden) {
      warning.hidden = false;
      button.firstChild.textContent = "Confirm: switch to log-only";
      return;
    }
    button.disabled = true;
    await onSwitch(p.policy_id, shadow ? "enforce" : "shadow");
  });
  return { badge, control: h("div", { class: "mode-control" }, button, warning) };
}

