"""Jobs: consumable jobs and service calls derived from supply decisions (to come)."""
