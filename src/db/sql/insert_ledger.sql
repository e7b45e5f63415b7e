-- New ledger rows of a plan, one per array element.
INSERT INTO point_transactions (organization_id, user_id, rule_id, rule_version, source_key,
                                course_id, occurred_at, local_date, points_awarded, points_capped,
                                metadata)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::int4[], $5::text[], $6::uuid[],
                     $7::timestamptz[], $8::date[], $9::int4[], $10::int4[], $11::jsonb[])
