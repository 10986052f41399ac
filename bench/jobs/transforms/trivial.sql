-- Overhead benchmark: one row per iteration, so what is measured is the cost
-- around the query (scheduling, connection, prepare, write, commit).
SELECT $n AS n
