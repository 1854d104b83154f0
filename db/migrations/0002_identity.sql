-- Accounts, activation, sessions with rotating refresh tokens, the activity log and the e-mail outbox.

create table users (
    id                 uuid primary key,
    email              citext      not null,
    password_hash      text        not null,
    display_name       text,
    age                smallint    check (age between 0 and 150),
    gender             text        check (gender in ('male', 'female', 'other')),
    role               text        not null default 'user' check (role in ('user', 'admin')),
    status             text        not null default 'pending' check (status in ('pending', 'active', 'disabled')),
    failed_logins      integer     not null default 0,
    locked_until       timestamptz,
    referrer_url       text,
    landing_page       text,
    utm_source         text,
    utm_medium         text,
    utm_campaign       text,
    utm_term           text,
    utm_content        text,
    created_at         timestamptz not null,
    updated_at         timestamptz not null,
    activated_at       timestamptz,
    constraint users_email_unique unique (email)
);
create index users_created_at on users (created_at);
create index users_role_status on users (role, status);

-- One row per activation e-mail: the link token and the 6-digit code are stored only as hashes.
create table activation_tokens (
    id          uuid primary key,
    user_id     uuid        not null references users (id) on delete cascade,
    token_hash  bytea       not null unique,
    code_hash   bytea       not null,
    attempts    integer     not null default 0,
    expires_at  timestamptz not null,
    used_at     timestamptz,
    created_at  timestamptz not null
);
create index activation_tokens_user on activation_tokens (user_id, created_at desc);

-- A session is one sign-in on one device; its refresh tokens form one rotation family.
create table sessions (
    id                 uuid primary key,
    user_id            uuid        not null references users (id) on delete cascade,
    ip                 inet,
    user_agent         text,
    device_type        text,
    browser            text,
    browser_version    text,
    os                 text,
    os_version         text,
    device_fingerprint text,
    country_code       text,
    latitude           double precision,
    longitude          double precision,
    timezone           text,
    referrer_url       text,
    landing_page       text,
    utm_source         text,
    utm_medium         text,
    utm_campaign       text,
    utm_term           text,
    utm_content        text,
    created_at         timestamptz not null,
    last_seen_at       timestamptz not null,
    expires_at         timestamptz not null,
    revoked_at         timestamptz,
    revoked_reason     text
);
create index sessions_user on sessions (user_id, created_at desc);
create index sessions_expires on sessions (expires_at);

create table refresh_tokens (
    id           uuid primary key,
    session_id   uuid        not null references sessions (id) on delete cascade,
    token_hash   bytea       not null unique,
    created_at   timestamptz not null,
    expires_at   timestamptz not null,
    rotated_at   timestamptz,
    replaced_by  uuid
);
create index refresh_tokens_session on refresh_tokens (session_id, created_at desc);

create table activity_log (
    id           bigint generated always as identity primary key,
    user_id      uuid        references users (id) on delete set null,
    kind         text        not null,
    occurred_at  timestamptz not null,
    ip           inet,
    user_agent   text,
    details      jsonb       not null default '{}'
);
create index activity_log_user on activity_log (user_id, id desc);
create index activity_log_kind_time on activity_log (kind, occurred_at);

-- Written in the same transaction as the change it reports; a dispatcher delivers and marks rows sent.
create table outbox (
    id          bigint generated always as identity primary key,
    recipient   citext      not null,
    subject     text        not null,
    body        text        not null,
    created_at  timestamptz not null,
    sent_at     timestamptz,
    attempts    integer     not null default 0,
    last_error  text
);
create index outbox_pending on outbox (id) where sent_at is null;
create index outbox_recipient on outbox (recipient, id desc);
