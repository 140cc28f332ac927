"""The web edge: request parsing, rate limits, security headers, what answers may disclose, page context."""
