-- Rollups for feature analytics (see docs/decisions/0010): click counts per hour and per UTC day by feature and
-- demographic cell, and the users who clicked as bitmaps, so that an admin's answer reads a few thousand small
-- rows instead of every click of the period. Maintained by the rollup job in the same transaction as rollup_hourly.

-- The age band and gender cell of a user, as the feature analytics filters name them ('' when unknown).
create function feature_age_band(age smallint) returns text language sql immutable parallel safe as $$
    select case when age is null then '' when age < 18 then '<18' when age <= 40 then '18-40' else '>40' end
$$;

-- Every user with a rolled-up feature click: a dense number (its bit in the bitmaps below) and the cell its clicks
-- are counted under, kept equal to the user's current age band and gender by the trigger at the end.
create sequence feature_click_user_numbers as integer minvalue 0 start 0;
create table feature_click_users (
    user_id   uuid    primary key,
    n         integer not null unique default nextval('feature_click_user_numbers'),
    age_band  text    not null,
    gender    text    not null
);

-- Clicks per UTC hour and per UTC day; age_band and gender '' for clicks of users without them (or sent by API keys),
-- '*' for the sum over every band or gender (each hour holds the whole cube, so any filter reads one row per feature).
create table feature_clicks_hourly (
    bucket    timestamptz not null,
    feature   text        not null,
    age_band  text        not null,
    gender    text        not null,
    clicks    bigint      not null,
    primary key (bucket, feature, age_band, gender)
);

create table feature_clicks_daily (
    day       date   not null,
    feature   text   not null,
    age_band  text   not null,
    gender    text   not null,
    clicks    bigint not null,
    primary key (day, feature, age_band, gender)
);

-- Who clicked: bit (n % 65536) of block (n / 65536) is set for user number n. feature '' means any feature.
create table feature_users_hourly (
    bucket   timestamptz  not null,
    feature  text         not null,
    block    integer      not null,
    users    bit(65536)   not null,
    primary key (bucket, feature, block)
);

create table feature_users_daily (
    day      date        not null,
    feature  text        not null,
    block    integer     not null,
    users    bit(65536)  not null,
    primary key (day, feature, block)
);

-- The numbered users currently in each cell, to apply an age or gender filter to the bitmaps above.
create table feature_user_masks (
    age_band  text        not null,
    gender    text        not null,
    block     integer     not null,
    users     bit(65536)  not null,
    primary key (age_band, gender, block)
);

-- Readers OR a few hundred bitmaps per answer: lz4 decompresses them several times faster than pglz.
do $$
begin
    if exists (select from pg_settings where name = 'default_toast_compression' and 'lz4' = any(enumvals)) then
        alter table feature_users_hourly alter column users set compression lz4;
        alter table feature_users_daily alter column users set compression lz4;
        alter table feature_user_masks alter column users set compression lz4;
    end if;
end
$$;

-- feature_users_of(n % 65536): the block bitmap with those bits set.
create function feature_users_add(users bit, n integer) returns bit language sql immutable strict parallel safe as $$
    select set_bit(users, n, 1)
$$;

do $$
begin
    execute format('create aggregate feature_users_of(integer) (sfunc = feature_users_add, stype = bit, initcond = %L)', repeat('0', 65536));
end
$$;

-- Rows that arrived since the last rollup run: what a reader must take from the raw events (and what the job reads).
create index events_received on events (received_at);

-- A change of a rolled-up user's age band or gender moves their clicks to the new cell and their bit to the new
-- mask, in the same transaction, so rollup answers filter by current demographics like the raw query does.
-- It waits for a running rollup (same lock), which then counts the user under the new cell.
create function feature_click_user_moved() returns trigger language plpgsql as $$
declare
    mover      feature_click_users%rowtype;
    new_band   text := feature_age_band(new.age);
    new_gender text := coalesce(new.gender, '');
    move_bands   text[];
    move_genders text[];
    move_signs   int[];
begin
    perform pg_advisory_xact_lock(hashtext('run_rollups'));
    select * into mover from feature_click_users where user_id = new.id;
    if not found or (mover.age_band = new_band and mover.gender = new_gender) then
        return null;
    end if;

    update feature_click_users set age_band = new_band, gender = new_gender where user_id = new.id;
    update feature_user_masks set users = set_bit(users, mover.n % 65536, 0)
    where age_band = mover.age_band and gender = mover.gender and block = mover.n / 65536;
    insert into feature_user_masks (age_band, gender, block, users)
    values (new_band, new_gender, mover.n / 65536, set_bit(B'0'::bit(65536), mover.n % 65536, 1))
    on conflict (age_band, gender, block) do update set users = set_bit(feature_user_masks.users, mover.n % 65536, 1);

    -- The cells whose counts change ('*' standing for any band or gender): old ones lose the clicks, new ones gain them.
    select array_agg(band), array_agg(sex), array_agg(change) into move_bands, move_genders, move_signs
    from (
        select band, sex, sum(sign)::int as change from (values
            (mover.age_band, mover.gender, -1), (mover.age_band, '*', -1), ('*', mover.gender, -1),
            (new_band, new_gender, 1), (new_band, '*', 1), ('*', new_gender, 1)) cell (band, sex, sign)
        group by band, sex having sum(sign) <> 0
    ) moves;

    -- Hours not rolled up yet get rows too; readers take those hours from raw events and the job rewrites them.
    insert into feature_clicks_hourly (bucket, feature, age_band, gender, clicks)
    select bucket, name, m.age_band, m.gender, m.sign * clicks
    from (
        select date_trunc('hour', occurred_at) as bucket, name, count(*) as clicks
        from events where user_id = new.id and type = 'feature_click' and name is not null
        group by 1, 2
    ) mine
    cross join unnest(move_bands, move_genders, move_signs) m (age_band, gender, sign)
    on conflict (bucket, feature, age_band, gender) do update set clicks = feature_clicks_hourly.clicks + excluded.clicks;

    insert into feature_clicks_daily (day, feature, age_band, gender, clicks)
    select day, name, m.age_band, m.gender, m.sign * clicks
    from (
        select (occurred_at at time zone 'UTC')::date as day, name, count(*) as clicks
        from events where user_id = new.id and type = 'feature_click' and name is not null
        group by 1, 2
    ) mine
    cross join unnest(move_bands, move_genders, move_signs) m (age_band, gender, sign)
    on conflict (day, feature, age_band, gender) do update set clicks = feature_clicks_daily.clicks + excluded.clicks;

    delete from feature_clicks_hourly where clicks = 0
        and bucket in (select date_trunc('hour', occurred_at) from events where user_id = new.id and type = 'feature_click');
    delete from feature_clicks_daily where clicks = 0
        and day in (select (occurred_at at time zone 'UTC')::date from events where user_id = new.id and type = 'feature_click');
    return null;
end
$$;

create trigger feature_click_user_moved after update of age, gender on users
    for each row when (old.age is distinct from new.age or old.gender is distinct from new.gender)
    execute function feature_click_user_moved();

-- Existing installations: forget where the rollups stopped, so the next run fills the new tables for all history
-- (readers take everything from raw events until then).
delete from job_watermarks where name = 'rollups';
