"""The reference app: the least a Django + DRF service must do for a terminal's sale, to
measure the app's ingest beside (issue 12). A minimal project of its own (settings, one
APIView) served by the same gunicorn configuration as the app, on the same database in
tables of its own: read a token header, lock the register's row (`select_for_update`),
insert one row, in one transaction, answer 201 with JSON.

What it leaves out is what the app adds: its middleware (sessions, CSRF, locale, CSP...),
token digests and their checks, Idempotency-Key records, the session opened or found,
running totals, limits and audit rows.

TABLES is the SQL that creates its tables (the bench runs it; no migration needed).
"""

TABLES = """
CREATE TABLE IF NOT EXISTS bench_ref_register (
    id serial PRIMARY KEY,
    token text NOT NULL UNIQUE,
    name text NOT NULL,
    sales integer NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS bench_ref_sale (
    id bigserial PRIMARY KEY,
    register_id integer NOT NULL REFERENCES bench_ref_register (id),
    kind text NOT NULL,
    payment_method text NOT NULL,
    amount numeric(12, 2) NOT NULL,
    idempotency_key text,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""
