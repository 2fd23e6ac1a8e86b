"""The write layer, shaped like an invoice's life. Views and tasks call these modules; each
holds one part and says what it guarantees:

- `drafts`: drafts and their lines, numbers, credit notes, corrections, attachments
- `submission`: asking to send (the pre-send checks run here), submitting exactly once
- `remote`: applying what B2Brouter says (one invoice, the polling, the reconciler)
- `legal`: the legal XML: fetched, checked against the invoice, acknowledged
- `webhooks`: notifications received, stored once, applied once
- `accounts`: the supplier's account at B2Brouter
- `notify`, `dashboard`: e-mails to staff, news since the last visit
- `events`: one small function per kind of history row; `enqueue`: the tasks, by name

The state is assigned in one place only, `invoicing.states.invoice_transition`.
"""
