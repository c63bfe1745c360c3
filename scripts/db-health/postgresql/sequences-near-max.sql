-- How close each sequence is to its maximum value.
-- Check: share of its range the fullest sequence has used
-- Warn: 75 %
-- Fail: 90 %
-- Unit: %
-- Value: value (the highest share of its range a sequence has used)
-- Why: a sequence at its maximum makes every INSERT that needs a new id fail. Move the column
-- and the sequence to bigint (`ALTER SEQUENCE ... AS bigint MAXVALUE ...` and the column)
-- long before that.
-- Limits: ascending sequences the reviewing role may read (others have no last_value here); the
-- range of the column the sequence feeds (an integer column fed by a bigint sequence) is not
-- considered. Cheap.
SELECT format('%I.%I', schemaname, sequencename) AS sequence, last_value, max_value,
       round(100.0 * (last_value - min_value) / nullif(max_value - min_value, 0), 2) AS value
FROM pg_sequences
WHERE last_value IS NOT NULL AND increment_by > 0
ORDER BY value DESC;
