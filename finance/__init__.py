"""Finance's pages over the invoices: the legal XML archive and its ZIP export, the worklist of
invoices turned down, the ageing of invoices with no news. Reads `invoicing`, never writes it."""
