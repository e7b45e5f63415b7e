-- Per person ($1) of organization ($2): domains whose every skill (the
-- organization's and platform-wide ones) the person has mastered.
SELECT d.user_id, count(*)::int4 AS n
  FROM (SELECT v.user_id, s.domain
          FROM unnest($1::uuid[], $2::uuid[]) AS v(user_id, organization_id)
          JOIN skills s ON s.organization_id = v.organization_id OR s.organization_id IS NULL
          LEFT JOIN user_skills us ON us.user_id = v.user_id AND us.skill_id = s.id
         GROUP BY v.user_id, s.domain
        HAVING bool_and(us.mastered_at IS NOT NULL)) d
 GROUP BY d.user_id
