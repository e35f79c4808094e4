-- Reconciliation's API (issue 17): the order as the API shows it gains the janitor's re-check schedule,
-- the findings list gets an index per filter, and staff mutations keep their FIRST ANSWER with the
-- idempotency key, so a repeat (a double press, a client retrying after a lost answer) gets that answer
-- again without anything being done again.

-- order_view of 20261122000200_checkout.sql (no later migration redefines it), plus sync_attempts and
-- last_sync_at (20261207000700_reconciliation.sql): the console shows how often reconciliation asked
-- Stripe about the order, and when last.
create or replace function order_view(p_order_id uuid) returns jsonb language sql stable as $$
  select jsonb_build_object(
           'id', o.id, 'status', o.status, 'sync_state', o.sync_state, 'product_id', o.product_id,
           'product_name', p.name, 'amount', o.amount, 'currency', o.currency,
           'checkout_session_id', o.checkout_session_id, 'payment_intent_id', o.payment_intent_id,
           'metadata', o.metadata, 'created_at', o.created_at, 'updated_at', o.updated_at,
           'sync_attempts', o.sync_attempts, 'last_sync_at', o.last_sync_at,
           'customer_id', c.id, 'customer_email', c.email, 'customer_name', c.name, 'customer_user_id', c.user_id,
           'payment', (select jsonb_build_object(
                               'payment_intent_id', pay.stripe_payment_intent_id, 'charge_id', pay.stripe_charge_id,
                               'status', pay.status, 'amount', pay.amount, 'amount_refunded', pay.amount_refunded,
                               'currency', pay.currency)
                         from payments pay where pay.order_id = o.id
                        order by pay.created_at desc limit 1))
    from orders o
    join customers c on c.id = o.customer_id
    join products p on p.id = o.product_id
   where o.id = p_order_id
$$;
revoke execute on function order_view(uuid) from public, anon, authenticated;

-- orphanedPayments(filter: {status | kind}) pages newest first: each filter its own (column, time desc,
-- id desc) index, as every staff list has (server/platform/db/keysetList.ts), so a page reads first + 1
-- entries however many resolved findings have piled up.
create index reconciliation_findings_status_seen_idx on reconciliation_findings (status, first_seen_at desc, id desc);
create index reconciliation_findings_kind_seen_idx on reconciliation_findings (kind, first_seen_at desc, id desc);

-- The answer a staff mutation gave the first time (ids and outcome, never a secret): a repeat of the
-- key re-reads those ids as they stand now.
alter table idempotency_keys add column response jsonb;
-- Which call holds an in-progress key (a token the caller makes): a key taken over after stale_seconds
-- gets the new caller's token, so the first call, still working after all, can neither complete nor
-- give back the claim that is no longer its own.
alter table idempotency_keys add column claim_token uuid;

-- Claims a staff mutation's key before the work (server/idempotency/staffAction.ts).
-- p: { scope, key, operation, request_hash, stale_seconds, token }
-- Returns { outcome: 'claimed' } (do the work, holding the key under token), { outcome: 'repeat', response } (done before with the
-- same input), { outcome: 'conflict', operation } (the key was used for other input or another
-- operation), or { outcome: 'in_progress' } (the same press is being worked on right now). A key left
-- in_progress for stale_seconds belonged to a process that died mid-way: it is claimed again, since
-- every staff action here is safe to redo after a crash (it asks Stripe, and re-checks its own state).
create function staff_action_claim(p jsonb) returns jsonb language plpgsql as $$
declare
  k idempotency_keys;
begin
  for i in 1..2 loop
    insert into idempotency_keys (scope, key, operation, request_hash, claim_token)
    values (p->>'scope', p->>'key', p->>'operation', p->>'request_hash', (p->>'token')::uuid)
    on conflict do nothing
    returning * into k;
    if k.scope is not null then
      return jsonb_build_object('outcome', 'claimed');
    end if;
    select * into k from idempotency_keys where scope = p->>'scope' and key = p->>'key' for update;
    -- Not found: released between our insert and this read; the loop claims it again.
    if found then
      exit;
    end if;
  end loop;
  if k.scope is null then
    return jsonb_build_object('outcome', 'in_progress');
  end if;
  if k.operation <> p->>'operation' or k.request_hash <> p->>'request_hash' then
    return jsonb_build_object('outcome', 'conflict', 'operation', k.operation);
  end if;
  if k.status = 'completed' then
    return jsonb_build_object('outcome', 'repeat', 'response', coalesce(k.response, '{}'::jsonb));
  end if;
  if k.created_at < now() - make_interval(secs => coalesce((p->>'stale_seconds')::integer, 300)) then
    update idempotency_keys set created_at = now(), claim_token = (p->>'token')::uuid where scope = k.scope and key = k.key;
    return jsonb_build_object('outcome', 'claimed');
  end if;
  return jsonb_build_object('outcome', 'in_progress');
end
$$;

-- Completes a claimed key with its answer and writes the audit row, in one statement: a key is never
-- completed without its audit row, nor audited twice.
-- p: { scope, key, operation, token, response, actor, action, target_type, target_id, details }
-- Returns false when the key is not in progress under this caller's token (taken over by a later call
-- after stale_seconds, or released): the caller reports it, it never passes silently.
create function staff_action_complete(p jsonb) returns boolean language plpgsql as $$
begin
  update idempotency_keys
     set status = 'completed', completed_at = now(), response = coalesce(p->'response', '{}'::jsonb)
   where scope = p->>'scope' and key = p->>'key' and operation = p->>'operation' and status = 'in_progress'
     and claim_token = (p->>'token')::uuid;
  if not found then
    return false;
  end if;
  insert into audit_log (actor_type, actor_id, action, target_type, target_id, details)
  values ('staff', p->>'actor', p->>'action', p->>'target_type', p->>'target_id',
          coalesce(p->'details', '{}'::jsonb) || jsonb_build_object('idempotency_key', p->>'key'));
  return true;
end
$$;

-- Gives a claimed key back when nothing happened (Stripe unreachable, the id names nothing): the same
-- key may be tried again. Only the caller's own claim (p.token): never a later call's that took it over.
create function staff_action_release(p jsonb) returns boolean language plpgsql as $$
begin
  delete from idempotency_keys
   where scope = p->>'scope' and key = p->>'key' and operation = p->>'operation' and status = 'in_progress'
     and claim_token = (p->>'token')::uuid;
  return found;
end
$$;

revoke execute on function staff_action_claim(jsonb) from public, anon, authenticated;
revoke execute on function staff_action_complete(jsonb) from public, anon, authenticated;
revoke execute on function staff_action_release(jsonb) from public, anon, authenticated;
