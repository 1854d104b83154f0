-- Rollups read by the admin dashboard and daily reports, so that multi-day windows never scan raw events.

-- Counts per UTC hour. metric: logins | failed_logins | registrations | events | feature_clicks.
-- role: the user's role (admin | user), or none (unknown e-mail, API-key events without a user).
-- dimension: the event type for events, the feature name for feature_clicks, '' otherwise.
create table rollup_hourly (
    bucket     timestamptz not null,
    metric     text        not null,
    role       text        not null,
    dimension  text        not null default '',
    value      bigint      not null,
    primary key (bucket, metric, role, dimension)
);

-- Who was active (signed in or sent an event) on which UTC day.
create table rollup_active_users (
    day      date not null,
    user_id  uuid not null,
    role     text not null,
    primary key (day, user_id)
);

-- Distinct active users in the `days` days up to and including `as_of`, per role ('all' for everyone).
create table rollup_active_window (
    as_of  date   not null,
    days   int    not null,
    role   text   not null,
    value  bigint not null,
    primary key (as_of, days, role)
);

-- Where each incremental job last stopped.
create table job_watermarks (
    name       text primary key,
    watermark  timestamptz not null
);

-- Users per role, kept exact by a trigger so the dashboard's total never counts a million rows.
create table user_counts (
    role   text primary key,
    total  bigint not null
);
insert into user_counts (role, total) select role, count(*) from users group by role;

create function count_users() returns trigger language plpgsql as $$
begin
    if tg_op in ('UPDATE', 'DELETE') then
        update user_counts set total = total - 1 where role = old.role;
    end if;
    if tg_op in ('INSERT', 'UPDATE') then
        insert into user_counts (role, total) values (new.role, 1)
        on conflict (role) do update set total = user_counts.total + 1;
    end if;
    return null;
end
$$;

create trigger users_counted after insert or delete or update of role on users
    for each row execute function count_users();

create table daily_reports (
    day           date primary key,
    report        jsonb       not null,
    generated_at  timestamptz not null
);

-- One open alert per incident: scope global | ip | account; subject is '' for global, the IP or the user id.
create table alerts (
    id               uuid primary key,
    scope            text        not null,
    subject          text        not null,
    opened_at        timestamptz not null,
    closed_at        timestamptz,
    window_count     bigint      not null,
    threshold        bigint      not null,
    baseline         double precision,
    peak_count       bigint      not null,
    acknowledged_at  timestamptz,
    acknowledged_by  uuid
);
create unique index alerts_one_open on alerts (scope, subject) where closed_at is null;
create index alerts_recent on alerts (opened_at desc);
