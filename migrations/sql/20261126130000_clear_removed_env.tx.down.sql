-- The cleared env cannot be restored, and the schema did not change:
-- rolling back changes nothing.
SELECT 1;
