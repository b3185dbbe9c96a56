SELECT date_trunc('month', i.paid_at) AS month,
       count(*) AS invoices,
       sum(i.amount) AS total
FROM invoices i
WHERE i.status = 'paid'
  AND i.paid_at >= :since
GROUP BY 1
ORDER BY 1
