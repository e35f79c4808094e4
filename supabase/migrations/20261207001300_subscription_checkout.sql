-- The one-time track switch (issue 19): changeOrderTrack moves an unpaid order to another track at
-- that track's price (server/checkout/changeTrack.ts).
--
-- Two functions, each one statement (one transaction):
--   order_track_change_begin()  validates (a refused request writes nothing), claims the idempotency
--                               key and returns the order's live payment attempt, which the server
--                               closes at Stripe (cancel / expire) before the change;
--   order_track_change_apply()  under the order's lock, and only when no attempt is live any more,
--                               moves the order to the track's price, writes the payment log, the audit
--                               row and completes the key with its answer.
-- An attempt started between the two (a createPaymentIntent racing the switch) is seen by apply under
-- the lock and answered 'attempt_live': the server closes it too and applies again. checkout_begin()
-- locks the order as well, so an attempt made after the switch is made at the new amount.

-- Customers act on their own orders: their audit rows name them as such.
do $$
declare
  v_def text;
begin
  select pg_get_constraintdef(oid) into v_def from pg_constraint
   where conrelid = 'audit_log'::regclass and conname = 'audit_log_actor_type_check';
  if v_def is not null and v_def not like '%''customer''%' then
    alter table audit_log drop constraint audit_log_actor_type_check;
    alter table audit_log add constraint audit_log_actor_type_check
      check (actor_type in ('staff', 'api_key', 'system', 'customer'));
  end if;
end
$$;

-- The order's payable one-time price of a track, or the reason there is none.
create function order_track_price(p_track text, out pr prices, out error text) language plpgsql stable as $$
declare
  prod products;
begin
  select * into prod from products where id = p_track;
  if not found then
    error := 'unknown_track';
    return;
  end if;
  if not prod.active then
    error := 'inactive_product';
    return;
  end if;
  select * into pr from prices
   where product_id = prod.id and active and kind = 'one_time'
   order by unit_amount, id limit 1;
  if not found then
    error := 'no_price';
  end if;
end
$$;

-- p: { scope, key, operation, request_hash, order_id, track, user_id?, actor }
-- Returns one of:
--   { outcome: 'error', error, order?, status? }   nothing was written
--   { outcome: 'conflict', operation }            the key was used with other input
--   { outcome: 'repeat', response, order }        the key's first answer, the order as it is now
--   { outcome: 'begun', order, attempt? }         close `attempt` (if any) at Stripe, then apply
create function order_track_change_begin(p jsonb) returns jsonb language plpgsql as $$
declare
  k idempotency_keys;
  o orders;
  a payment_attempts;
  tp record;
  v_user uuid := nullif(p->>'user_id', '')::uuid;
begin
  select * into k from idempotency_keys where scope = p->>'scope' and key = p->>'key';
  if found then
    if k.operation <> p->>'operation' or k.request_hash <> p->>'request_hash' then
      return jsonb_build_object('outcome', 'conflict', 'operation', k.operation);
    end if;
    if k.status = 'completed' then
      return jsonb_build_object('outcome', 'repeat', 'response', k.response, 'order', order_view(k.order_id));
    end if;
    -- In progress: a concurrent call with this key, or one whose process died. Doing it again is safe
    -- (the Stripe keys are the attempt's, and apply completes the key once), so it goes on below.
  end if;

  select * into o from orders where id = (p->>'order_id')::uuid;
  if not found then
    return jsonb_build_object('outcome', 'error', 'error', 'order_not_found');
  end if;
  if v_user is not null and not exists (select 1 from customers where id = o.customer_id and user_id = v_user) then
    return jsonb_build_object('outcome', 'error', 'error', 'order_of_another_customer');
  end if;
  tp := order_track_price(p->>'track');
  if tp.error is not null then
    return jsonb_build_object('outcome', 'error', 'error', tp.error);
  end if;
  if o.status not in ('pending', 'requires_action', 'failed') then
    return jsonb_build_object('outcome', 'error', 'error', 'order_not_payable', 'order', order_view(o.id), 'status', o.status);
  end if;
  if o.product_id = p->>'track' and k.scope is null then
    return jsonb_build_object('outcome', 'error', 'error', 'same_track', 'order', order_view(o.id));
  end if;

  if k.scope is null then
    insert into idempotency_keys (scope, key, operation, request_hash, order_id)
    values (p->>'scope', p->>'key', p->>'operation', p->>'request_hash', o.id)
    on conflict do nothing;
    if not found then
      -- A concurrent call with this key committed first: answer as if it had been there already.
      select * into k from idempotency_keys where scope = p->>'scope' and key = p->>'key';
      if k.operation <> p->>'operation' or k.request_hash <> p->>'request_hash' then
        return jsonb_build_object('outcome', 'conflict', 'operation', k.operation);
      end if;
      if k.status = 'completed' then
        return jsonb_build_object('outcome', 'repeat', 'response', k.response, 'order', order_view(k.order_id));
      end if;
    end if;
  end if;

  select * into a from payment_attempts where order_id = o.id and status in ('creating', 'open');
  return jsonb_build_object('outcome', 'begun', 'order', order_view(o.id), 'attempt', case when a.id is null then null else to_jsonb(a) end);
end
$$;

-- p: { scope, key, operation, order_id, track, actor, actor_type, actor_id }
-- Returns one of:
--   { outcome: 'changed', response, order }       done now
--   { outcome: 'repeat', response, order }        done before with this key (a concurrent twin)
--   { outcome: 'attempt_live', attempt, order }   an attempt is live again: close it, apply again
--   { outcome: 'error', error, order?, status? }  paid meanwhile, or already on the track; nothing written
create function order_track_change_apply(p jsonb) returns jsonb language plpgsql as $$
declare
  k idempotency_keys;
  o orders;
  a payment_attempts;
  tp record;
  v_from_track text;
  v_from_amount bigint;
  v_response jsonb;
begin
  -- The key first, then the order: the order in which checkout_begin() takes them too.
  select * into k from idempotency_keys where scope = p->>'scope' and key = p->>'key' for update;
  if not found or k.operation <> p->>'operation' then
    raise exception 'order_track_change_apply: key % was not claimed for %', p->>'key', p->>'operation';
  end if;
  if k.status = 'completed' then
    return jsonb_build_object('outcome', 'repeat', 'response', k.response, 'order', order_view(k.order_id));
  end if;
  select * into o from orders where id = k.order_id for update;
  if o.status not in ('pending', 'requires_action', 'failed') then
    return jsonb_build_object('outcome', 'error', 'error', 'order_not_payable', 'order', order_view(o.id), 'status', o.status);
  end if;
  select * into a from payment_attempts where order_id = o.id and status in ('creating', 'open');
  if found then
    return jsonb_build_object('outcome', 'attempt_live', 'attempt', to_jsonb(a), 'order', order_view(o.id));
  end if;
  if o.product_id = p->>'track' then
    -- Another request (another key) moved it here meanwhile.
    return jsonb_build_object('outcome', 'error', 'error', 'same_track', 'order', order_view(o.id));
  end if;
  tp := order_track_price(p->>'track');
  if tp.error is not null then
    return jsonb_build_object('outcome', 'error', 'error', tp.error);
  end if;

  v_from_track := o.product_id;
  v_from_amount := o.amount;
  update orders
     set product_id = (tp.pr).product_id, price_id = (tp.pr).id, amount = (tp.pr).unit_amount,
         currency = (tp.pr).currency, updated_at = now()
   where id = o.id
  returning * into o;
  v_response := jsonb_build_object('order_id', o.id, 'from_track', v_from_track, 'to_track', o.product_id,
                                   'from_amount', v_from_amount, 'amount', o.amount, 'currency', o.currency);
  perform payment_log_for_order(o, 'order.track_changed', o.status,
    v_response || jsonb_build_object('actor', p->>'actor', 'price_id', o.price_id, 'idempotency_key', p->>'key'));
  insert into audit_log (actor_type, actor_id, action, target_type, target_id, details)
  values (p->>'actor_type', p->>'actor_id', 'order.change_track', 'order', o.id::text,
          v_response || jsonb_build_object('idempotency_key', p->>'key'));
  update idempotency_keys set status = 'completed', completed_at = now(), response = v_response
   where scope = k.scope and key = k.key;
  return jsonb_build_object('outcome', 'changed', 'response', v_response, 'order', order_view(o.id));
end
$$;

revoke execute on function order_track_price(text) from public, anon, authenticated;
revoke execute on function order_track_change_begin(jsonb) from public, anon, authenticated;
revoke execute on function order_track_change_apply(jsonb) from public, anon, authenticated;
