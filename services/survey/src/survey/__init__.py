"""Survey service: resident consultation (households, willingness polls, menus, design votes, surveys)."""
