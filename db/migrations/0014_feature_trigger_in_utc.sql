-- The profile-change trigger buckets clicks by date_trunc('hour', occurred_at), which truncates in the session's time
-- zone: a profile fixed from a session in a zone with a fractional offset (psql in Asia/Kolkata) moved clicks into
-- ':30' buckets that no reader reads, and the old cells kept them. The service's own connections are UTC; the
-- function now runs in UTC whoever calls it.
alter function feature_click_user_moved() set timezone = 'UTC';
