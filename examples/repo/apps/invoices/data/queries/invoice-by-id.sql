SELECT i.*
FROM invoices i
WHERE i.id = :invoice_id
