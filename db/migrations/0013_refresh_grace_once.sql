-- A spent refresh token may be exchanged again once within the grace window after its rotation (a client that lost
-- the response, two tabs racing); a further exchange is reuse. When that one exchange happened:
alter table refresh_tokens add column grace_used_at timestamptz;
