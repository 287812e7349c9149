"""hive-c0re's API gateway: every agent's Claude API traffic, metered per call and held to budgets."""
