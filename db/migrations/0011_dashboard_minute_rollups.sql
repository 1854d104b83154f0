-- The dashboard's totals (failed logins in the last 24 hours, new users in the last 7 days) start and end inside an
-- hour. Whole hours come from rollup_hourly; the rest was counted from the raw rows: at a million users the
-- partial hours at both ends are thousands of rows per answer, most of the statement's cost. Per-minute counts of
-- the two metrics leave at most a minute at the start and the rollup overlap at the end to the raw rows.
-- Written by the rollup job for the hours it recomputes, like rollup_hourly; role as in rollup_hourly ('none' for
-- failed logins of unknown e-mails).
create table rollup_minutely (
    bucket  timestamptz not null,
    metric  text        not null check (metric in ('failed_logins', 'registrations')),
    role    text        not null,
    value   bigint      not null,
    primary key (metric, bucket, role) include (value)
);

-- The windows reach 7 days back: the minutes of the last 8 days, from the raw rows.
insert into rollup_minutely (bucket, metric, role, value)
select date_trunc('minute', a.occurred_at), 'failed_logins', coalesce(u.role, 'none'), count(*)
from activity_log a left join users u on u.id = a.user_id
where a.kind = 'login_failed' and a.occurred_at >= now() - interval '8 days'
group by 1, 3
union all
select date_trunc('minute', u.created_at), 'registrations', u.role, count(*)
from users u
where u.created_at >= now() - interval '8 days'
group by 1, 3;
