-- Aggregate model without its DISTINCT count (benchmark, #17: the shape run.fuse: auto fuses): for model n, the active customers'
-- transactions in its look-back window and above its minimum amount, summed
-- per region, segment and category (240 rows). $n and $scale are bound
-- params; model_params holds the rest per n. One query (the engine floor
-- wraps it in COPY as fanout does).
SELECT
  $n AS n,
  c.region,
  c.segment,
  t.category,
  count(*) AS txns,
  round(sum(t.amount), 2) AS total_amount,
  round(avg(t.amount), 4) AS avg_amount,
  round(sum(CASE p.kind WHEN 'log' THEN ln(1 + t.amount) WHEN 'flat' THEN 1 ELSE t.amount END)
        * p.scale * p.weight * $scale, 4) AS score
FROM transactions t
JOIN customers c USING (customer_id)
JOIN model_params p ON p.n = $n
WHERE t.txn_date > DATE '2025-12-31' - CAST(p.lookback_days AS INTEGER)
  AND t.amount >= p.min_amount
  AND c.is_active
GROUP BY c.region, c.segment, t.category, p.kind, p.scale, p.weight
ORDER BY c.region, c.segment, t.category
