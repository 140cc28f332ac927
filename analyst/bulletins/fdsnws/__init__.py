"""The FDSN event web service (fdsnws-event 1.2) at /fdsnws/event/1/, serving Seistriage's events."""
