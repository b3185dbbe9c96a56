def notify_approver(invoice_id):
    invoice = db.get('invoices', invoice_id)
    for user in users_with_role('Accountants'):
        mail.send(user.email, f"Invoice {invoice.number} waits for you")
