"""The engine behind the `facebook` and `zalo` channels: fan-page posts, platform errors, alerts."""
