"""Annual assessment of communities and units with the party-building coefficient (党建系数法)."""
