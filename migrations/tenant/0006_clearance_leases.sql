-- Leases on unfinished clearance requests, so that any live vault process can take over work whose
-- process died, without waiting for a restart. A row in 'processing' is held by lease_owner (one
-- vault process instance) until lease_expires_at (database time). The holder renews the lease while
-- the job is queued, judged or waiting to be retried; once it lapses, any process may claim the row
-- (FOR UPDATE SKIP LOCKED) and judge it. NULL means unheld: rows from before this migration, and rows
-- released by a process that shut down cleanly. Exactly one decision still wins: the decision itself
-- is the guarded UPDATE ... WHERE status = 'processing', whoever holds the lease.
ALTER TABLE clearance_requests ADD COLUMN lease_owner text;
ALTER TABLE clearance_requests ADD COLUMN lease_expires_at timestamptz;
