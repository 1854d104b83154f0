-- E-mail changes wait for the new address to be confirmed: the address an activation mail went to is kept with it.
alter table users add column pending_email citext;
alter table activation_tokens add column email citext;
