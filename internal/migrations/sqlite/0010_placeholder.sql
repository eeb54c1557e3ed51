-- Placeholder: number 0010 belongs to the trust branch (issue 11, items 4-5).
-- The risk branch was told to use 0011; this file only keeps the versions
-- gapless on this branch. Drop it when merging trust's 0010.
SELECT 1;
