-- Indexes for the order timeline, the customer page and search anywhere (issue 22).
--
-- The timeline reads the audit entries whose target is the order or one of its refunds, disputes,
-- payments, Make deliveries or webhook events: audit_log had only its (created_at, id) index, so each
-- timeline scanned the whole log. One index on the target serves every kind of target.
create index audit_log_target_idx on audit_log (target_type, target_id, created_at desc, id desc);

-- The customer page lists the payment requests a customer is a member of, by email (compared without
-- case); the members' unique index leads with the request, so it cannot find an email on its own.
create index payment_request_members_email_idx on payment_request_members (lower(email));
