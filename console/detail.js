// The request detail page: everything a reviewer needs to decide without looking anything up, the
// judge's reason and the reviewers' votes kept apart, the vote form, and the ledger proof status.
import { ApiError, decide, getReview, ledgerWitnesses, proofBundle } from "./api.js";
import { byId, facts, fill, h, notice, section } from "./dom.js";
import { ageText, approvalsText, dateText, expiryText, isExpired, prettyJson, statusOf, text } from "./format.js";
import { statusBadge } from "./lists.js";
import { verifyBundleInclusion, witnessSummary } from "./merkle.js";
import { passkeyNote, passkeyOptIn, signApproval } from "./passkeys.js";
import { defaultApproveWarning } from "./policies.js";
import { stepAuthSections, stepAuthSummary } from "./stepauth.js";
import { approvalTerms, grantFacts, keepTerms, restoreTerms } from "./grants.js";


const code = (value) => h("code", {}, text(value));
const jsonBlock = (label, value) => h("pre", { class: "json", tabindex: "0", "aria-label": label }, prettyJson(value));

function evidenceList(review) {
  const chunks = Array.isArray(review.evidence_chunks) ? review.evidence_chunks : [];
  const cited = new Set((Array.isArray(review.citations) ? review.citations : []).map((c) => c?.chunk_id));
  // Citations the judge made that are not among the chunks are shown too.
  const extra = (Array.isArray(review.citations) ? review.citations : []).filter((c) => !chunks.some((e) => e?.chunk_id === c?.chunk_id));
  const all = [...chunks, ...extra];
  if (all.length === 0) return h("p", { class: "empty" }, "No policy evidence was retrieved for this request.");
  return h(
    "ol",
    { class: "evidence" },
    all.map((c) =>
      h(
        "li",
        {},
        h(
          "p",
          { class: "evidence-head" },
          h("strong", {}, text(c?.heading, "Untitled")),
          cited.has(c?.chunk_id) ? h("span", { class: "badge badge-cited" }, "cited") : null,
        ),
        h("blockquote", {}, text(c?.excerpt, "")),
        h(
          "p",
          { class: "hint" },
          `${text(c?.source, "?")} of policy ${text(c?.policy_id)}`,
          typeof c?.score === "number" ? ` · relevance ${c.score.toFixed(2)}` : "",
        ),
      ),
    ),
  );
}

/** The review's progress: approvals against the request's rules (the votes themselves are in the Review section). */
function approvalsSection(review) {
  const a = review.approvals ?? { received: 0, required: 1, groups: [] };
  return section(
    "approvals-title",
    "Approvals",
    review.rules?.require_passkey ? h("p", { class: "hint", id: "approvals-passkey" }, "Each approval must be signed with the reviewer's passkey.") : null,
    h(
      "p",
      {},
      h("label", { for: "approvals-progress" }, approvalsText(a)),
      " ",
      h("progress", { id: "approvals-progress", max: String(Math.max(1, a.required ?? 1)), value: String(Math.min(a.received ?? 0, a.required ?? 1)) }),
    ),
    Array.isArray(a.groups) && a.groups.length
      ? h(
          "ul",
          { class: "plain" },
          a.groups.map((g) => h("li", {}, `Group ${text(g.name)}: ${g.received ?? 0} of ${g.required ?? 1}`)),
        )
      : null,
  );
}

/**
 * Who voted, as people read it: a reviewer's name and email, or a key's label (with its id) or
 * "API key <id>" for a key with no reviewer behind it. The vault works the name out.
 */
function voter(v) {
  const name = h("strong", { class: "voter-name" }, text(v.reviewer_name, v.api_key_id ?? v.reviewer_id));
  if (v.voter_kind === "api_key") return [name, v.api_key_label ? h("span", { class: "hint" }, ` (API key ${text(v.api_key_id)})`) : null];
  return [name, v.reviewer_email ? h("span", { class: "hint voter-email" }, ` <${v.reviewer_email}>`) : null];
}

function voteItem(v) {
  return h(
    "li",
    {},
    h("span", { class: `badge ${v.approved ? "badge-approved" : "badge-denied"}` }, v.approved ? "Approved" : "Denied"),
    " by ",
    voter(v),
    v.passkey ? h("span", { class: "badge badge-passkey", title: `Passkey ${text(v.passkey.credential_id)}` }, "signed with a passkey") : null,
    h("span", { class: "hint" }, ` · ${dateText(v.created_at)}`),
    h("p", { class: "vote-reason" }, v.reason ? v.reason : h("span", { class: "empty" }, "No reason given.")),
  );
}

/** The votes, each with its own reason, then the final decision they led to: never mixed with the judge's reason. */
function reviewSection(r) {
  const votes = Array.isArray(r.votes_detail) ? r.votes_detail : [];
  const pending = r.status === "pending_review" || r.status === "processing";
  return section(
    "review-title",
    "Review",
    votes.length ? h("ul", { class: "votes", "aria-label": "Votes" }, votes.map(voteItem)) : h("p", { class: "empty" }, "No votes yet."),
    h("h3", { id: "final-decision-title" }, "Final decision"),
    pending
      ? h("p", { class: "empty" }, `Not decided yet: ${approvalsText(r.approvals)} so far.`)
      : h(
          "div",
          { role: "group", "aria-labelledby": "final-decision-title", id: "final-decision" },
          facts([
            ["Outcome", statusBadge(r)],
            ["Reason", text(r.reason, "No reason given")],
            ["Reason code", r.reason_code ? code(r.reason_code) : null],
            ["Decided", dateText(r.decided_at)],
          ]),
        ),
  );
}

/** Reason codes a review (or its expiry, or the agent's cancel) writes over the judge's. */
const REVIEW_CODES = new Set(["review_approved", "review_denied", "review_expired", "cancelled_by_agent"]);

/** The judge's reason as it recorded it; a reviewer's decision replaces the request's reason, never this one. */
function judgeReasonText(r) {
  if (r.judge_reason) return r.judge_reason;
  if (r.status === "processing") return "The judge has not decided yet.";
  // Older vaults send no judge_reason: the request's reason is the judge's only when no review decided it.
  if (r.judge_reason === undefined && r.decided_by !== "review") return text(r.reason);
  return "No reason from the judge is recorded for this request.";
}

/**
 * `shown` holds the proof check's last message for this request, so a re-render (a stream event
 * reloads the page) shows it again, and a check still running writes to whichever element is shown.
 */
function ledgerSection(review, shown) {
  const ledger = review.ledger ?? { events: 0, in_checkpoint: false, checkpoint_id: null };
  const result = h("p", { id: "proof-result", role: "status", class: shown.className ?? "proof-result", "data-request-id": review.request_id }, shown.text);
  const button = h("button", { type: "button", class: "button", id: "proof-verify" }, "Verify ledger proof");
  button.addEventListener("click", async () => {
    button.disabled = true;
    const show = (textContent, outcome) => {
      shown.text = textContent;
      shown.className = outcome ? `proof-result ${outcome}` : "proof-result";
      const current = document.getElementById("proof-result");
      // Another request's page may be open by now: its result is not this one's.
      const target = current?.dataset.requestId === review.request_id ? current : result;
      target.className = shown.className;
      target.textContent = shown.text;
    };
    show("Fetching the proof bundle…");
    try {
      const bundle = await proofBundle(review.request_id);
      const outcome = await verifyBundleInclusion(bundle);
      // The page may predate the checkpoint; the verified bundle is newer news.
      if (outcome.ok) fill(byId("ledger-checkpoint"), `in signed checkpoint ${outcome.checkpointId}`);
      // Who cosigned that checkpoint, each cosignature checked here against the witness keys the vault lists.
      // A witness list that cannot be read leaves the inclusion result as it is.
      const witnesses = outcome.ok ? await witnessSummary(bundle, await ledgerWitnesses().catch(() => null)) : "";
      show(outcome.ok ? `✓ ${outcome.message[0].toUpperCase()}${outcome.message.slice(1)}${witnesses ? `. ${witnesses}` : ""}` : `✗ Not verified: ${outcome.message}`, outcome.ok ? "ok" : "bad");
    } catch (err) {
      show(err instanceof ApiError ? err.describe() : String(err), "bad");
    } finally {
      button.disabled = false;
    }
  });
  return section(
    "ledger-title",
    "Ledger",
    facts([
      ["Events", String(ledger.events ?? 0)],
      ["Checkpoint", h("span", { id: "ledger-checkpoint" }, ledger.in_checkpoint ? `in signed checkpoint ${text(ledger.checkpoint_id)}` : "not yet in a signed checkpoint")],
    ]),
    button,
    result,
    h("p", { class: "hint" }, "The check recomputes the RFC 6962 inclusion path in this browser. Signatures are checked offline with countersign verify-bundle."),
  );
}

/** The vote form; the server enforces who may vote, the viewer hint only explains in advance. */
function decisionSection(review, onDecided) {
  const viewer = review.viewer ?? {};
  const error = h("p", { id: "decision-error", class: "notice notice-error", role: "alert", hidden: true });
  const reason = h("textarea", { id: "decision-reason", name: "review_reason", rows: "3", maxlength: "2000", "aria-describedby": "decision-reason-hint" });
  const approve = h("button", { type: "submit", class: "button button-approve", value: "approve", id: "approve" }, "Approve");
  const deny = h("button", { type: "submit", class: "button button-deny", value: "deny", id: "deny" }, "Deny");
  // Shown in advance, but the buttons stay enabled: the server decides, and its problem+json answer
  // (which may be newer than this page) is what the reviewer sees after trying.
  const blocked = viewer.can_deny === false ? "You cannot vote on this request" : viewer.can_approve === false ? "You can deny but not approve this request" : null;
  const warning = blocked ? h("p", { class: "notice notice-warn", id: "viewer-note" }, viewer.why_not ? `${blocked}: ${viewer.why_not}.` : `${blocked}.`) : null;
  // Issue 17: an approval needs a passkey signature. Without a passkey there is nothing to sign with, so Approve is disabled.
  const needsPasskey = review.rules?.require_passkey === true && viewer.can_approve !== false;
  let approveBlocked = false;
  const passkey = needsPasskey
    ? passkeyNote((b) => {
        approveBlocked = b;
        approve.disabled = b;
      })
    : null;
  const optIn = needsPasskey || viewer.can_approve === false ? null : passkeyOptIn();
  // Issue 17: widen the approval into a grant, or edit the arguments first (agents' clearance requests only).
  const terms = viewer.can_approve === false || review.kind === "stepauth" || review.stepauth ? null : approvalTerms(review);
  const form = h(
    "form",
    { class: "decision", "aria-describedby": warning ? "viewer-note" : null },
    h("label", { for: "decision-reason" }, "Reason (optional)"),
    reason,
    h("p", { id: "decision-reason-hint", class: "hint" }, "Recorded with your vote in the ledger and returned to the agent."),
    terms?.element,
    passkey,
    optIn?.element,
    h("div", { class: "decision-buttons" }, approve, deny),
    error,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const approved = event.submitter?.value !== "deny";
    approve.disabled = deny.disabled = true;
    notice(error, "");
    try {
      const extra = approved && terms ? terms.fields() : {};
      // Signed last, over the vote's other fields exactly as they are sent.
      if (approved && (needsPasskey || optIn?.wanted())) extra.passkey = await signApproval(review.request_id, extra);
      await decide(review.request_id, approved, reason.value.trim(), extra);
      await onDecided(approved);
    } catch (err) {
      // ApiError: the vault's answer; PasskeyError: the browser's (cancelled, unsupported): both say it in one line.
      const message = typeof err?.describe === "function" ? err.describe() : String(err);
      notice(error, message);
      // A stream event may have re-rendered the page while the vote was on its way: say it there too.
      const live = document.getElementById("decision-error");
      if (live && live !== error) notice(live, message);
      approve.disabled = approveBlocked;
      deny.disabled = false;
      (live ?? error).focus?.();
    }
  });
  return section("decision-title", "Your decision", warning, form);
}

export class DetailView {
  constructor({ announce }) {
    this.announce = announce;
    this.id = null;
    this.review = null;
    this.proofShown = {};
  }

  async show(id) {
    this.id = id;
    this.review = null;
    this.proofShown = {};
    fill(byId("detail-body"));
    byId("detail-title").textContent = "Loading request…";
    await this.load();
  }

  async load() {
    const id = this.id;
    const error = byId("detail-error");
    try {
      const review = await getReview(id);
      if (id !== this.id) return;
      this.review = review;
      notice(error, "");
      this.render(review);
    } catch (err) {
      if (id !== this.id || (err instanceof ApiError && err.status === 401)) return;
      byId("detail-title").textContent = "Request";
      notice(error, err instanceof ApiError ? err.describe() : String(err));
    }
  }

  /**
   * A stream event for the open request: reload it, keeping what the reviewer typed and the answer
   * to their last vote (an event that arrives just after a refused vote must not hide the refusal).
   */
  async apply(review) {
    if (review.request_id !== this.id || !this.review) return;
    const typed = document.getElementById("decision-reason")?.value;
    const signing = document.getElementById("passkey-sign")?.checked;
    const shownError = document.getElementById("decision-error");
    const refusal = shownError && !shownError.hidden ? shownError.textContent : "";
    const hadFocus = document.activeElement?.id;
    const kept = keepTerms();
    await this.load();
    restoreTerms(kept);
    const area = document.getElementById("decision-reason");
    if (area && typed) area.value = typed;
    const box = document.getElementById("passkey-sign");
    if (box && signing) box.checked = true;
    const error = document.getElementById("decision-error");
    if (error && refusal) notice(error, refusal);
    if (hadFocus) document.getElementById(hadFocus)?.focus();
  }

  render(r) {
    const status = statusOf(r);
    const pending = r.status === "pending_review";
    const automatic = r.decided_by === "automatic";
    // Older vaults send no decided_by: votes or review rules mean a review.
    const reviewed = r.decided_by === "review" || (r.decided_by === undefined && (pending || (Array.isArray(r.votes_detail) && r.votes_detail.length > 0)));
    byId("detail-title").textContent = `${text(r.tool_name)} · ${status.label}`;
    fill(
      byId("detail-body"),
      // A StepAuth request's summary comes first: it is what the SP says the action is (issue 16).
      r.stepauth ? stepAuthSummary(r.stepauth) : null,
      h("p", { class: "detail-sub" }, statusBadge(r), " Request ", code(r.request_id)),
      h(
        "div",
        { class: "detail-grid" },
        h(
          "div",
          { class: "detail-main" },
          r.stepauth ? stepAuthSections(r.stepauth) : null,
          section(
            "action-title",
            "What the agent wants to do",
            facts([
              ["Tool", code(r.tool_name)],
              ["Agent", text(r.agent_id)],
              ["On behalf of", text(r.human_principal, "no human principal given")],
              ["Session", r.session_id ? code(r.session_id) : null],
            ]),
            h("h3", {}, "Exact arguments"),
            jsonBlock("Exact arguments", r.tool_args ?? {}),
            h("h3", {}, "Context"),
            r.context && Object.keys(r.context).length ? jsonBlock("Context", r.context) : h("p", { class: "empty" }, "No context given."),
          ),
          section(
            "judge-title",
            automatic ? "How it was decided" : "Why it needs a human",
            automatic ? h("p", { class: "hint" }, "Decided by the policy's conditions or the judge, without review.") : null,
            facts([
              ["Judge's reason", h("span", { id: "judge-reason" }, judgeReasonText(r))],
              // Once a review decided, the request's reason code is the review's: shown under Final decision.
              ["Reason code", r.reason_code && !REVIEW_CODES.has(r.reason_code) ? code(r.reason_code) : null],
              // policy_default_decision is that of the version that judged this request, not today's.
              ["Policy", r.policy_id ? h("div", {}, code(r.policy_id), r.policy_default_decision === "approve" ? defaultApproveWarning("detail-policy-warning") : null) : "no policy"],
              ["Confidence", text(r.confidence_bucket)],
              ["Matched conditions", Array.isArray(r.matched_condition_ids) && r.matched_condition_ids.length ? r.matched_condition_ids.join(", ") : null],
            ]),
            h("h3", {}, "Policy evidence"),
            evidenceList(r),
          ),
          grantFacts(r),
          reviewed ? reviewSection(r) : null,
        ),
        h(
          "div",
          { class: "detail-side" },
          pending ? decisionSection(r, (approved) => this.decided(approved)) : null,
          section(
            "timing-title",
            "Timing",
            facts([
              ["Submitted", h("span", {}, dateText(r.created_at), " (", h("span", { "data-age": r.created_at }, ageText(r.created_at)), ")")],
              pending
                ? ["Expiry", h("span", { "data-expires": r.expires_at ?? "", class: isExpired(r.expires_at) ? "urgent" : null }, expiryText(r.expires_at))]
                : ["Decided", dateText(r.decided_at)],
              ["Outcome", pending ? null : text(r.decision_status)],
            ]),
          ),
          automatic ? null : approvalsSection(r),
          ledgerSection(r, this.proofShown),
        ),
      ),
    );
  }

  async decided(approved) {
    this.announce(approved ? "Your approval was recorded." : "Your denial was recorded.");
    await this.load();
    byId("detail-title").focus();
  }
}
