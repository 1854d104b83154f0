-- Code activation looks tokens up by the address they were sent to (e-mail changes keep it on the token).
create index activation_tokens_email on activation_tokens (email, created_at desc) where email is not null;
