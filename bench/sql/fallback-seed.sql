-- Stand-in for the service's `seed` command when the build has none: :users active users (every one with the
-- password hash in :hash, i.e. the admin's password) and :events events over the last :days days, spread over
-- the users, a few feature names and event types. Rollups are brought up to date by the caller afterwards.
\set ON_ERROR_STOP on
select ensure_events_partition(m)
from generate_series(now() - make_interval(days => :days) - interval '1 month', now() + interval '1 month', interval '1 month') m;

insert into users (id, email, password_hash, display_name, age, gender, role, status, created_at, updated_at, activated_at)
select gen_random_uuid(), 'bench-user-' || i || '@bench.example', :'hash', 'Bench user ' || i,
       10 + (i * 7) % 70, (array['male', 'female', 'other'])[1 + i % 3], 'user', 'active',
       now() - make_interval(days => :days) * random(), now(), now()
from generate_series(1, :users) i;

create temp table bench_users as select id, row_number() over () as rn from users where role = 'user';
create index on bench_users (rn);
analyze bench_users;

insert into events (id, occurred_at, received_at, type, name, user_id, session_id, url, properties, ip, user_agent, device_type, browser, os)
select gen_random_uuid(), t.at, t.at, t.type,
       case when t.type in ('click', 'feature_click') then (array['export', 'search', 'share', 'filters', 'invite', 'billing', 'reports', 'dark_mode'])[1 + g.i % 8] end,
       u.id, 's-' || (g.i / 20), 'https://app.example/' || (g.i % 50), '{"plan":"pro"}'::jsonb, '10.0.0.1'::inet,
       'Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0', 'desktop', 'Chrome', 'Linux'
from generate_series(1, :events) g(i)
cross join lateral (select now() - make_interval(days => :days) * random() as at,
                           (array['page_view', 'page_view', 'click', 'feature_click', 'feature_click', 'custom'])[1 + (g.i % 6)] as type) t
join bench_users u on u.rn = 1 + (g.i::bigint * 7919) % (select count(*) from bench_users);

insert into event_ids (id, received_at) select id, received_at from events;
analyze users;
analyze events;
