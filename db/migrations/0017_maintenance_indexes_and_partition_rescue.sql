-- The hourly upkeep finds revoked sessions by index (a partial one: only ended sessions; account activity past its
-- retention is found through activity_log_kind_time, so that no index is built over that large table here).
create index sessions_revoked on sessions (revoked_at) where revoked_at is not null;

-- Creates the monthly partition holding `at`, if missing (called at start-up and hourly, months ahead).
-- Two failure modes of the first version are gone:
--  * the DDL takes a lock on `events` that waits for every running reader and makes every insert wait behind it:
--    past a few seconds it gives up instead (lock_timeout) and the next hourly call tries again (the setting holds
--    for the caller's transaction: every caller runs it as a statement of its own);
--  * rows that landed in the default partition for want of this month's (partitions could not be created for a
--    while) made the creation fail ("would be violated by some row") on every call: they are moved into the new
--    partition in the same transaction.
create or replace function ensure_events_partition(at timestamptz) returns text
language plpgsql as $$
declare
    from_at timestamptz := date_trunc('month', at, 'UTC');
    to_at   timestamptz := date_trunc('month', at, 'UTC') + interval '1 month';
    part    text := format('events_%s', to_char(date_trunc('month', at at time zone 'UTC'), 'YYYY_MM'));
    stray   boolean;
begin
    -- Nodes starting together must not race to create the same partition.
    perform pg_advisory_xact_lock(hashtext('ensure_events_partition'));
    if to_regclass(part) is not null then
        return part;
    end if;

    perform set_config('lock_timeout', '5s', true);
    stray := exists (select 1 from events_default where occurred_at >= from_at and occurred_at < to_at);
    if stray then
        -- The lock the creation takes anyway, taken first: no row may land in the default partition between the move
        -- and the creation (it would fail the creation again).
        lock table events in access exclusive mode;
        drop table if exists pg_temp.stray_events;
        create temp table stray_events (like events) on commit drop;
        with moved as (delete from events_default where occurred_at >= from_at and occurred_at < to_at returning *)
        insert into pg_temp.stray_events select * from moved;
    end if;

    execute format('create table %I partition of events for values from (%L) to (%L)', part, from_at, to_at);

    if stray then
        insert into events select * from pg_temp.stray_events;
        drop table pg_temp.stray_events;
    end if;
    return part;
end
$$;
