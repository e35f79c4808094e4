-- Functions added today that Supabase's API roles could execute: every function is created executable
-- by PUBLIC, and these were never revoked. Each runs as its caller, so RLS still applied, but the rule
-- (tests/platform/db/rls.test.ts) is that anon and authenticated execute nothing but pure helpers:
-- the server calls these as the tables' owner.
revoke execute on function audit_log_cli_actor() from public, anon, authenticated;
revoke execute on function payment_request_cancel_targets(uuid) from public, anon, authenticated;
revoke execute on function payment_request_create_repeat(idempotency_keys, text) from public, anon, authenticated;
revoke execute on function payment_request_invalid(text, text, text) from public, anon, authenticated;
revoke execute on function payment_request_make_data(uuid) from public, anon, authenticated;
revoke execute on function payment_request_member_status(text) from public, anon, authenticated;
