// A StepAuth request on the review page (issue 16): the SP's one-line summary first, then the
// principal chain (subject, operator, operator's operator…), the action's labelled details, and what
// happened to the decision (callback delivery, the SP's execution result). Everything here comes from
// the SP and is hostile by default: it only ever becomes text nodes (dom.js's h), never markup.
import { facts, h, section } from "./dom.js";
import { dateText, expiryText, text } from "./format.js";

/** The hub caps the chain at 5 operators; nested groups have no cap on the wire, so the page sets one. */
const MAX_DEPTH = 8;
const code = (value) => h("code", {}, text(value));

/** Labelled entries `{key, label, value}` as label: value rows; a group (an array value) is an indented list of its own. */
export function labelledRows(entries, depth = 0) {
  if (!Array.isArray(entries) || entries.length === 0) return null;
  if (depth >= MAX_DEPTH) return h("p", { class: "hint" }, "Nested deeper than this page shows; the exact entries are in the context below.");
  return h(
    "dl",
    { class: depth === 0 ? "labelled" : "labelled labelled-group" },
    entries.map((e) => {
      // The label is what the SP wrote for people; the key is for policies, so it is only a fallback.
      const label = text(e?.label, text(e?.key, "(no label)"));
      const group = Array.isArray(e?.value);
      return h(
        "div",
        { class: group ? "labelled-row labelled-row-group" : "labelled-row", "data-key": typeof e?.key === "string" ? e.key : null },
        h("dt", {}, label),
        h("dd", {}, group ? labelledRows(e.value, depth + 1) ?? h("span", { class: "empty" }, "empty group") : text(e?.value, "")),
      );
    }),
  );
}

/** The chain as an ordered list: who asked (the subject), then each operator acting for the one before. */
function principalChain(principal) {
  const links = [];
  for (let p = principal, i = 0; p && typeof p === "object" && i < MAX_DEPTH; p = p.operator, i++) links.push(p);
  if (links.length === 0) return h("p", { class: "empty" }, "No principal given.");
  return h(
    "ol",
    { class: "principal-chain", "aria-label": "Principal chain" },
    links.map((p, i) =>
      h(
        "li",
        { class: "principal-link" },
        h("p", { class: "principal-head" }, h("span", { class: "principal-role" }, i === 0 ? "Subject" : i === 1 ? "Operator" : `Operator (level ${i})`), " ", code(p.subject)),
        labelledRows(p.attributes),
      ),
    ),
  );
}

const callbackText = (c) => {
  if (!c) return "No callback: the SP polls for the decision.";
  const attempts = typeof c.attempts === "number" ? ` after ${c.attempts} attempt${c.attempts === 1 ? "" : "s"}` : "";
  return `${text(c.status, "unknown")}${attempts}${c.last_error ? ` (last error: ${c.last_error})` : ""}`;
};

function decisionFacts(d) {
  if (!d) return "Not signed yet.";
  const by = Array.isArray(d.decided_by) && d.decided_by.length ? d.decided_by.join(", ") : "nobody (expired or cancelled)";
  return h("span", {}, h("span", { class: `badge ${d.decision === "approved" ? "badge-approved" : "badge-denied"}` }, text(d.decision)), ` by ${by}, ${dateText(d.decided_at)}`);
}

/** The summary, on its own and first: what the SP says the action is, in its words. */
export function stepAuthSummary(s) {
  return h(
    "section",
    { class: "card stepauth-summary", "aria-labelledby": "stepauth-summary-title", id: "stepauth-summary" },
    h("h2", { id: "stepauth-summary-title" }, "Summary from the service provider"),
    h("p", { class: "stepauth-summary-text" }, text(s.summary, "No summary given.")),
    h("p", { class: "hint" }, "StepAuth request ", code(s.request_id), " from ", h("strong", {}, text(s.sender)), s.name ? ` · ${s.name}` : "", " · ", code(s.category)),
  );
}

/** The rest of the StepAuth member: chain, labelled details, routing and delivery. */
export function stepAuthSections(s) {
  const target = s.target && typeof s.target === "object" ? `${text(s.target.kind)} ${text(s.target.id)}` : null;
  return [
    section("stepauth-principal-title", "Who is asking", principalChain(s.principal)),
    section("stepauth-details-title", "Details", labelledRows(s.details) ?? h("p", { class: "empty" }, "The SP gave no details.")),
    section(
      "stepauth-delivery-title",
      "StepAuth",
      facts([
        ["Target", target],
        ["Approver", s.approver ? code(s.approver) : "any reviewer"],
        ["Expires", s.expires_at ? `${dateText(s.expires_at)} (${expiryText(s.expires_at)})` : null],
        ["Callback", h("span", { id: "stepauth-callback" }, callbackText(s.callback))],
        ["Callback URL", s.callback?.url ? code(s.callback.url) : null],
        ["Decision", h("span", { id: "stepauth-decision" }, decisionFacts(s.decision))],
        ["Execution", h("span", { id: "stepauth-execution" }, s.execution ? `${text(s.execution.status)}${s.execution.error ? `: ${s.execution.error}` : ""}` : "Not reported yet.")],
      ]),
    ),
  ];
}
