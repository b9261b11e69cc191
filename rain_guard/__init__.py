"""rain_guard."""
