-- The console's history (GET /reviews?decided_by=automatic|any) pages every decided request by
-- (decided_at, id), newest first. Without an index each page sorts the tenant's whole request table.
CREATE INDEX clearance_requests_decided ON clearance_requests (decided_at, id);
