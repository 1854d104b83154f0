-- Client apps (API keys) and the events they and signed-in users send.

create table api_keys (
    id            uuid primary key,
    user_id       uuid        not null references users (id) on delete cascade,
    name          text        not null,
    public_id     text        not null unique,
    secret_hash   bytea       not null,
    created_at    timestamptz not null,
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
create index api_keys_user on api_keys (user_id, created_at desc);

-- Partitioned by event time (monthly partitions are created ahead by the service). The key includes the
-- partition column, so idempotency by client-supplied id is kept in event_ids below.
create table events (
    id                uuid        not null,
    occurred_at       timestamptz not null,
    received_at       timestamptz not null,
    type              text        not null check (type in ('page_view', 'click', 'feature_click', 'login', 'custom')),
    name              text,
    user_id           uuid,
    api_key_id        uuid,
    external_user_id  text,
    session_id        text,
    url               text,
    referrer          text,
    properties        jsonb,
    ip                inet,
    user_agent        text,
    device_type       text,
    browser           text,
    os                text,
    utm_source        text,
    utm_medium        text,
    utm_campaign      text,
    utm_term          text,
    utm_content       text,
    primary key (occurred_at, id)
) partition by range (occurred_at);

create table events_default partition of events default;

-- Feature analytics: clicks by feature and day, all users or one user.
create index events_type_time on events (type, occurred_at) include (name, user_id);
create index events_user_time on events (user_id, occurred_at) where user_id is not null;
-- Usage analytics: events per API key and day.
create index events_key_time on events (api_key_id, occurred_at) where api_key_id is not null;

-- Every event id ever accepted (client-supplied or not), so a retry is stored once whatever its occurredAt.
create table event_ids (
    id           uuid primary key,
    received_at  timestamptz not null
);
create index event_ids_received on event_ids (received_at);

-- Creates the monthly partition holding `at`, if missing. Called at start-up and ahead of time.
create or replace function ensure_events_partition(at timestamptz) returns text
language plpgsql as $$
declare
    from_month date := date_trunc('month', at at time zone 'UTC')::date;
    to_month   date := (date_trunc('month', at at time zone 'UTC') + interval '1 month')::date;
    part       text := format('events_%s', to_char(from_month, 'YYYY_MM'));
begin
    -- Nodes starting together must not race to create the same partition.
    perform pg_advisory_xact_lock(hashtext('ensure_events_partition'));
    if to_regclass(part) is null then
        execute format(
            'create table %I partition of events for values from (%L) to (%L)',
            part, (from_month::timestamp at time zone 'UTC'), (to_month::timestamp at time zone 'UTC'));
    end if;
    return part;
end
$$;
