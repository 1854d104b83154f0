-- The outbox claims a mail with a lease and retries a failed one later, backing off: next_attempt_at is when a row
-- may be claimed again (null: now).
alter table outbox add column next_attempt_at timestamptz;
