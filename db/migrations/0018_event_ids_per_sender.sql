-- A client's event id is its sender's own: another sender's event with the same id is not a retry of it. With ids
-- unique across senders, one sender could suppress another's events by sending their ids first (ids derived from
-- content, or learnt). The sender is the owner of the API key or the signed-in user (events.owner in the service).
-- Ids claimed before this migration have no owner and keep answering retries, whoever sends them, for their 30 days.
alter table event_ids add column owner_id uuid;
alter table event_ids drop constraint event_ids_pkey;
create unique index event_ids_sender on event_ids (owner_id, id);
create unique index event_ids_unowned on event_ids (id) where owner_id is null;
