SELECT i.id, i.number, c.name AS contractor, i.amount, i.status
FROM invoices i
JOIN contractors c ON c.id = i.contractor_id
WHERE i.status IN ('draft', 'submitted')
ORDER BY i.due_date, i.number
