"""The invoicing pages: `invoices` (list, detail, actions), `invoice_form`, `webhooks`."""
