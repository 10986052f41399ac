-- One model iteration: score each region/segment on the last $n days of
-- transactions. $n, $scale, $min_amount, $regions and $reference_date are
-- bound parameters (see job.yaml); nothing is pasted into the SQL.
CREATE TEMP TABLE window_txns AS
SELECT t.*, c.region, c.segment, w.weight
FROM transactions t
JOIN customers c USING (customer_id)
JOIN region_weights w USING (region)
WHERE t.txn_date > CAST($reference_date AS DATE) - CAST($n AS INTEGER)
  AND t.txn_date <= CAST($reference_date AS DATE)
  AND t.amount >= $min_amount
  AND list_contains($regions, c.region);

SELECT
  $n AS iteration,
  region,
  segment,
  count(*) AS txns,
  count(DISTINCT customer_id) AS customers,
  round(sum(amount), 2) AS total_amount,
  round(avg(amount), 2) AS avg_amount,
  round(sum(amount) * $scale * any_value(weight) / $n, 4) AS score
FROM window_txns
GROUP BY region, segment
ORDER BY region, segment;
