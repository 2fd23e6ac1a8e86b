"""What every app shares: the supplier's accounts, roles, the B2Brouter client factory, log
context, text checks, health, and enqueueing tasks by name. Imports no other app of ours."""
