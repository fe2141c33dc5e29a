-- Orders and merchants keep their documents as `json`, as exchanges do (0002): `jsonb` cannot hold a string with
-- U+0000 (PostgreSQL's text cannot), and a gateway call may carry one in a value the order records, where the
-- in-process stores keep it as it came. Nothing queries inside a document on a hot path; `json` also spares every
-- write its conversion to `jsonb`.
ALTER TABLE orders ALTER COLUMN doc TYPE json USING doc::json;
ALTER TABLE merchants ALTER COLUMN doc TYPE json USING doc::json;
