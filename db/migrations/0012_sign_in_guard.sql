-- A sign-in verifies the password hash it read before its writes, outside any transaction: the hash takes tens of
-- milliseconds and holds no connection. Its writes (one batch, one implicit transaction) start with this check: the
-- user's row is locked and must still hold the hash that was verified, and the account still be active; otherwise
-- the batch fails whole (SQLSTATE AN001) and nothing of the sign-in is stored. A password change that committed
-- meanwhile therefore wins (the old password opens no session, and a rehash of it cannot overwrite the new one), and
-- one that starts later waits for the lock and then revokes the new session like every other.
create function assert_sign_in_current(p_user uuid, p_hash text) returns void language plpgsql as $$
begin
    perform 1 from users where id = p_user and password_hash = p_hash and status = 'active' for no key update;
    if not found then
        raise exception 'the password or the account changed during the sign-in' using errcode = 'AN001';
    end if;
end $$;
