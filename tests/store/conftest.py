"""One suite for every store backend (litestar's way with its channel backends): each test here that takes
`store` (tests/support/fixtures.py) runs against SQLite and against a real PostgreSQL server the suite
starts itself."""
