"""Points: the rule catalogue, claims and approvals, the append-only ledger, the Vanguard Index."""
