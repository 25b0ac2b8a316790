import { z } from "zod";
import { confidenceBuckets } from "../../../judge/judge.js";

/** Shared pieces of the response schemas. They describe answers; nothing parses with them. */
export const isoTime = z.string().describe("RFC 3339 UTC time, e.g. 2026-12-05T03:40:12.345Z");
export const hex64 = z.string().regex(/^[0-9a-f]{64}$/).describe("64 lowercase hex digits (SHA-256)");
export const base64url = z.string().regex(/^[A-Za-z0-9_-]*$/);
export const bucket = z.enum(confidenceBuckets);
export const decisionStatus = z.enum(["approved", "denied", "approved_pending_review"]);
export const jsonObject = z.record(z.string(), z.unknown());
