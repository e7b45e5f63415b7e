DROP INDEX user_skills_mastered;
DROP INDEX enrollments_completed;
