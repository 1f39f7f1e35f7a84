"""Pure finance rules: ledger, funding plans, contributions, emergency repairs, payback analysis."""
