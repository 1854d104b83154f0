-- Case-insensitive text for e-mail addresses and names that must be unique regardless of case.
create extension if not exists citext;
