-- Reads of the admin dashboard: whole hours of one metric and per-day sums, without walking every metric and
-- dimension of rollup_hourly (its primary key starts with the hour).

-- Hours of one metric over a range, answered from the index alone.
create index rollup_hourly_metric_bucket on rollup_hourly (metric, bucket, role) include (value);

-- rollup_hourly summed per UTC day, metric and role (over the dimensions). Statement triggers on rollup_hourly keep
-- it equal to that sum in the same transaction, so whoever writes the hourly rollups needs no change.
create table rollup_daily (
    metric  text   not null,
    day     date   not null,
    role    text   not null,
    value   bigint not null,
    primary key (metric, day, role)
);
insert into rollup_daily (metric, day, role, value)
select metric, (bucket at time zone 'UTC')::date, role, sum(value) from rollup_hourly group by 1, 2, 3;

create function rollup_daily_add() returns trigger language plpgsql as $$
begin
    insert into rollup_daily (metric, day, role, value)
    select metric, (bucket at time zone 'UTC')::date, role, sum(value) from new_rows group by 1, 2, 3
    on conflict (metric, day, role) do update set value = rollup_daily.value + excluded.value;
    return null;
end
$$;

create function rollup_daily_subtract() returns trigger language plpgsql as $$
begin
    update rollup_daily d set value = d.value - o.value
    from (select metric, (bucket at time zone 'UTC')::date as day, role, sum(value) as value from old_rows group by 1, 2, 3) o
    where d.metric = o.metric and d.day = o.day and d.role = o.role;
    return null;
end
$$;

create function rollup_daily_change() returns trigger language plpgsql as $$
begin
    insert into rollup_daily (metric, day, role, value)
    select metric, day, role, sum(value) from (
        select metric, (bucket at time zone 'UTC')::date as day, role, value from new_rows
        union all
        select metric, (bucket at time zone 'UTC')::date, role, -value from old_rows
    ) changes
    group by 1, 2, 3
    having sum(value) <> 0
    on conflict (metric, day, role) do update set value = rollup_daily.value + excluded.value;
    return null;
end
$$;

create function rollup_daily_clear() returns trigger language plpgsql as $$
begin
    truncate rollup_daily;
    return null;
end
$$;

create trigger rollup_daily_insert after insert on rollup_hourly
    referencing new table as new_rows for each statement execute function rollup_daily_add();
create trigger rollup_daily_delete after delete on rollup_hourly
    referencing old table as old_rows for each statement execute function rollup_daily_subtract();
create trigger rollup_daily_update after update on rollup_hourly
    referencing old table as old_rows new table as new_rows for each statement execute function rollup_daily_change();
create trigger rollup_daily_truncate after truncate on rollup_hourly
    for each statement execute function rollup_daily_clear();

-- Registrations in a range of time, of any role or one (the dashboard's edges around whole hours), from the index alone.
create index users_created_at_role on users (created_at, role);
