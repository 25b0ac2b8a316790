// Plain-text formatting shared by the views. Everything here returns strings for textContent.
import { serverNow } from "./api.js";

/** 93784 → "1d 2h", 3725 → "1h 2m", 125 → "2m 5s". Two units are enough to decide by. */
export function duration(totalSeconds) {
  const s = Math.max(0, Math.floor(totalSeconds));
  const units = [
    ["d", 86400],
    ["h", 3600],
    ["m", 60],
    ["s", 1],
  ];
  const parts = [];
  let rest = s;
  for (const [label, size] of units) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0 || parts.length > 0) parts.push(`${n}${label}`);
    if (parts.length === 2) break;
  }
  return parts.length ? parts.join(" ") : "0s";
}

export function ageText(createdAt) {
  const t = Date.parse(createdAt);
  return Number.isFinite(t) ? `${duration((serverNow() - t) / 1000)} ago` : "unknown age";
}

/** "expires in 23h 59m", "expired 5m ago" or "no expiry". */
export function expiryText(expiresAt) {
  if (!expiresAt) return "no expiry";
  const t = Date.parse(expiresAt);
  if (!Number.isFinite(t)) return "unknown expiry";
  const left = (t - serverNow()) / 1000;
  return left > 0 ? `expires in ${duration(left)}` : `expired ${duration(-left)} ago`;
}

export const isExpired = (expiresAt) => Boolean(expiresAt) && Date.parse(expiresAt) <= serverNow();

export function dateText(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

export function prettyJson(value) {
  try {
    return JSON.stringify(value ?? null, null, 2);
  } catch {
    return String(value);
  }
}

const statusLabels = {
  pending_review: "Pending review",
  approved: "Approved",
  denied: "Denied",
  processing: "Processing",
  expired: "Expired",
};

/** The badge text and its colour class; an expiry is a denial with its own reason code. */
export function statusOf(review) {
  const expired = review.decision_status === "expired" || review.reason_code === "review_expired";
  const key = expired ? "expired" : review.status;
  return { key, label: statusLabels[key] ?? String(review.status ?? "unknown") };
}

export function approvalsText(approvals) {
  if (!approvals) return "";
  return `${approvals.received ?? 0} of ${approvals.required ?? 1} approvals`;
}

export const text = (value, fallback = "—") => (value === undefined || value === null || value === "" ? fallback : String(value));
