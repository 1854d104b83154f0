-- user_counts kept per statement instead of per row: a row trigger updating the same counter row once per inserted
-- user makes a bulk insert quadratic (each update walks the earlier versions of that row in the transaction).
drop trigger users_counted on users;
drop function count_users();

create function count_users_delta() returns trigger language plpgsql as $$
begin
    -- Only roles whose count changed are written, so ordinary updates of users (sign-ins) never touch user_counts.
    insert into user_counts (role, total)
    select role, sum(delta) from (
        select role, 1 as delta from new_rows
        union all
        select role, -1 from old_rows
    ) changes
    group by role
    having sum(delta) <> 0
    on conflict (role) do update set total = user_counts.total + excluded.total;
    return null;
end
$$;

create function count_users_inserted() returns trigger language plpgsql as $$
begin
    insert into user_counts (role, total) select role, count(*) from new_rows group by role
    on conflict (role) do update set total = user_counts.total + excluded.total;
    return null;
end
$$;

create function count_users_deleted() returns trigger language plpgsql as $$
begin
    update user_counts c set total = c.total - d.n
    from (select role, count(*) as n from old_rows group by role) d where c.role = d.role;
    return null;
end
$$;

create trigger users_counted_insert after insert on users
    referencing new table as new_rows for each statement execute function count_users_inserted();
create trigger users_counted_update after update on users
    referencing old table as old_rows new table as new_rows for each statement execute function count_users_delta();
create trigger users_counted_delete after delete on users
    referencing old table as old_rows for each statement execute function count_users_deleted();
