"""The web foundation shared by the customer portal (/portal) and the dealer console: users and their kinds,
database sessions with CSRF tokens, login throttling, Jinja2 pages and security headers."""
