-- The admin CLI, `payments-ops` (issue 21), acts as `cli:<os user>@<host>`: an operator at a terminal
-- on the server's machine, with no staff account behind them. Its audit rows say so by their own
-- actor type, not as a staff member's.
--
-- The refund, webhook replay and Make resend functions write their audit rows with actor_type 'staff'
-- and the actor id they are given; rather than a second copy of each function, every audit row whose
-- actor id is a CLI one takes the actor type 'cli' as it is inserted.
alter table audit_log drop constraint audit_log_actor_type_check;
alter table audit_log add constraint audit_log_actor_type_check
  check (actor_type = any (array['staff', 'api_key', 'system', 'customer', 'cli']));

create function audit_log_cli_actor() returns trigger language plpgsql as $$
begin
  if new.actor_id like 'cli:%' then
    new.actor_type := 'cli';
  end if;
  return new;
end
$$;

create trigger audit_log_cli_actor before insert on audit_log
  for each row execute function audit_log_cli_actor();

-- Customers read their orders' payment logs: a refund made at the terminal reads 'staff' there, as one
-- made in the console does; who (the OS user and host) is in audit_log only.
create or replace function refund_log_actor(p_actor text) returns text language sql immutable as $$
  select case when p_actor like 'staff:%' or p_actor like 'cli:%' then 'staff' else p_actor end
$$;
