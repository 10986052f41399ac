-- Row-level model (benchmark): every transaction of the customers with
-- customer_id % $n = 0 (about 1/n of all rows, so small n write the most),
-- joined and scored. $n and $scale are bound params. One query.
SELECT
  t.txn_id,
  t.customer_id,
  c.region,
  c.segment,
  t.category,
  t.txn_date,
  t.amount,
  round(t.amount * p.scale * p.weight * $scale, 4) AS score,
  t.amount >= p.min_amount AS above_min
FROM transactions t
JOIN customers c USING (customer_id)
JOIN model_params p ON p.n = $n
WHERE t.customer_id % $n = 0
