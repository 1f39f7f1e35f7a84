"""Smart-community service: device events, alarm rules and care for elderly residents living alone."""
