import { randomBytes, randomUUID } from "node:crypto";

export const newTenantId = () => `t_${randomBytes(10).toString("hex")}`;
export const newApiKeyId = () => `key_${randomBytes(8).toString("hex")}`;
export const newRequestId = () => `req_${randomUUID()}`;
export const newId = (prefix: string) => `${prefix}_${randomUUID()}`;
