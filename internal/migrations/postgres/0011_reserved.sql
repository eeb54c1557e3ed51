-- Placeholder: the number is taken by another branch (migration 0012 is
-- this branch's). Drop this file when merging.
SELECT 1;
