-- The admin's e-mail search is a substring match (ilike '%...%'): at 1M users every search was a full scan of the
-- table (2.4-3.5 s). A trigram index answers patterns of three characters or more from the index. pg_trgm ships with
-- PostgreSQL (contrib) and is a trusted extension: the database's owner may create it.
create extension if not exists pg_trgm;
create index users_email_trgm on users using gin ((email::text) gin_trgm_ops);
