// Entry point: session check, hash routing (#/queue, #/history, #/policies, #/policies/<id>, #/outbox, #/unreported, #/agent-claims,
// #/stepauth-senders, #/passkeys, #/grants, #/replay, #/reviews/<id>), the live stream.
import { AgentClaimsView } from "./agent-claims.js";
import { ApiError, getSession, setUnauthorizedHandler, signIn, signOut } from "./api.js";
import { DetailView } from "./detail.js";
import { GrantsView } from "./grants.js";
import { byId, fill, notice } from "./dom.js";
import { HistoryView, QueueView, tickTimes } from "./lists.js";
import { LiveReviews } from "./live.js";
import { OutboxView } from "./outbox.js";
import { PasskeysView } from "./passkeys.js";
import { PoliciesView, PolicyView } from "./policies.js";
import { ReplayView } from "./replay.js";
import { SendersView } from "./stepauth-senders.js";
import { UnreportedView } from "./unreported.js";

const views = ["signin", "queue", "history", "policies", "policy", "outbox", "unreported", "claims", "senders", "passkeys", "grants", "replay", "detail"];
/** The nav entry a view belongs to: a policy's page is under Policies. */
const navOf = { policy: "policies" };
let session = null;

const announcer = byId("announcer");
/** aria-live="polite": screen readers read new lines without moving focus. Old lines are pruned. */
function announce(message) {
  const line = document.createElement("p");
  line.textContent = message;
  announcer.append(line);
  while (announcer.childElementCount > 5) announcer.firstElementChild.remove();
}

const queue = new QueueView({
  announce,
  onCount: (n) => {
    byId("queue-count").textContent = String(n);
    document.title = n ? `(${n}) Countersign reviewer console` : "Countersign reviewer console";
  },
});
const history = new HistoryView();
const detail = new DetailView({ announce });
const outbox = new OutboxView({ announce });
const unreported = new UnreportedView({ announce });
const claims = new AgentClaimsView({ announce });
const senders = new SendersView({ announce });
const passkeys = new PasskeysView({ announce });
const grants = new GrantsView({ announce });
const replay = new ReplayView({ announce });
// Admins switch policy modes from the list; reviewers see the modes only.
const policies = new PoliciesView({ announce, isAdmin: () => session?.scope === "admin" });
const policy = new PolicyView({ policies });

/** Admins see dead deliveries (GET /outbox is admin-only); the count shows in the nav. */
async function refreshOutboxCount() {
  if (session?.scope !== "admin") return;
  const n = await outbox.load();
  if (n !== null) byId("outbox-count").textContent = String(n);
}

const liveLabels = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", offline: "Offline, retrying…" };
const live = new LiveReviews({
  onReview: (review) => {
    queue.apply(review);
    history.apply(review);
    void detail.apply(review);
  },
  onState: (state) => {
    const el = byId("live-status");
    el.dataset.state = state;
    el.textContent = liveLabels[state] ?? state;
    // A stream that was closed may mean the session ended; the 401 handler takes over if so.
    if (state === "offline") void getSession().catch((err) => err instanceof ApiError && err.status === 401 && signedOut());
  },
  onReconnect: () => void queue.load(),
});

function showView(name, focus = true) {
  for (const v of views) byId(`view-${v}`).hidden = v !== name;
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === (navOf[name] ?? name)) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  // Move focus to the new view's heading so keyboard and screen-reader users land on the change.
  if (focus) byId(`${name === "signin" ? "signin" : name}-title`).focus();
}

/** The id in a hash like #/reviews/<id>, decoded (or as written when it is not valid percent-encoding). */
function idIn(pattern, hash) {
  const match = pattern.exec(hash);
  if (!match) return null;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return match[1];
  }
}

/** Shows the view the hash names. Focus moves to its heading except on the first load. */
async function route(focus = true) {
  if (!session) return showView("signin", focus);
  const hash = location.hash || "#/queue";
  const id = idIn(/^#\/reviews\/(.+)$/, hash);
  const policyId = idIn(/^#\/policies\/(.+)$/, hash);
  if (policyId !== null) {
    showView("policy", false);
    await policy.show(policyId);
    if (focus) byId("policy-title").focus();
  } else if (id !== null) {
    showView("detail", false);
    await detail.show(id);
    if (focus) byId("detail-title").focus();
  } else if (hash === "#/outbox" && session.scope === "admin") {
    showView("outbox", focus);
    await refreshOutboxCount();
  } else if (hash === "#/replay" && session.scope === "admin") {
    showView("replay", focus);
    await replay.load();
  } else if (hash === "#/stepauth-senders" && session.scope === "admin") {
    showView("senders", focus);
    await senders.load();
  } else if (hash === "#/passkeys") {
    showView("passkeys", focus);
    await passkeys.load();
  } else if (hash === "#/grants") {
    showView("grants", focus);
    await grants.load();
  } else if (hash === "#/agent-claims") {
    showView("claims", focus);
    await claims.load();
  } else if (hash === "#/unreported") {
    showView("unreported", focus);
    await unreported.load();
  } else if (hash === "#/policies") {
    showView("policies", focus);
    await policies.load();
  } else if (hash === "#/history") {
    showView("history", focus);
    await history.load();
  } else {
    showView("queue", focus);
  }
}

function signedIn(info) {
  session = info;
  const who = info?.reviewer ?? {};
  byId("whoami-name").textContent = `${who.name || who.email || who.id || "Reviewer"}`;
  byId("whoami-name").title = who.email ? `${who.email} · tenant ${info.tenant_id}` : `tenant ${info?.tenant_id ?? ""}`;
  byId("whoami").hidden = false;
  byId("nav").hidden = false;
  byId("nav-outbox").hidden = info?.scope !== "admin";
  byId("nav-senders").hidden = info?.scope !== "admin";
  byId("nav-replay").hidden = info?.scope !== "admin";
  void refreshOutboxCount();
  // The stream's open event loads the queue too (closing the gap between snapshot and stream); this
  // first load does not wait for it, so the queue shows even when the stream cannot connect.
  void queue.load();
  live.start();
}

function signedOut() {
  session = null;
  live.stop();
  queue.clear();
  // Nothing of the last reviewer's data stays in the page for whoever signs in next.
  for (const id of ["detail-body", "history-list", "policies-list", "policy-body", "outbox-list", "unreported-list", "claims-list", "senders-list", "senders-hub", "passkeys-list", "grants-list", "replay-result"]) fill(byId(id));
  byId("replay-candidate").value = "";
  byId("whoami").hidden = true;
  byId("nav").hidden = true;
  showView("signin");
}

setUnauthorizedHandler(() => {
  if (session) {
    signedOut();
    notice(byId("signin-error"), "Your session has ended. Sign in again.");
  }
});

byId("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = byId("api-key");
  const error = byId("signin-error");
  const key = input.value.trim();
  if (!key) {
    notice(error, "Enter your reviewer key.");
    input.setAttribute("aria-invalid", "true");
    input.focus();
    return;
  }
  const button = event.submitter ?? event.target.querySelector("button");
  button.disabled = true;
  try {
    const info = await signIn(key);
    input.value = "";
    input.removeAttribute("aria-invalid");
    notice(error, "");
    signedIn(info);
    await route();
  } catch (err) {
    notice(error, err instanceof ApiError ? err.describe() : String(err));
    input.setAttribute("aria-invalid", "true");
    input.focus();
  } finally {
    button.disabled = false;
  }
});

byId("sign-out").addEventListener("click", async () => {
  try {
    await signOut();
  } catch {
    /* the cookie may already be gone; signing out locally is what the user asked for */
  }
  signedOut();
});

window.addEventListener("hashchange", () => void route());
setInterval(() => tickTimes(), 1000);

async function boot() {
  try {
    signedIn(await getSession());
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) notice(byId("signin-error"), err instanceof ApiError ? err.describe() : String(err));
  }
  await route(false);
  document.documentElement.dataset.ready = "true";
}

void boot();
