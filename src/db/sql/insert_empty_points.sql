-- The user_points rows of ($1 person, $2 organization) that do not exist
-- yet, in the empty state (the column defaults), in the order given.
INSERT INTO user_points (user_id, organization_id)
SELECT * FROM unnest($1::uuid[], $2::uuid[])
    ON CONFLICT DO NOTHING
