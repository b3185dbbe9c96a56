SELECT c.id, c.name, c.vat_id
FROM contractors c
WHERE c.active
ORDER BY c.name
