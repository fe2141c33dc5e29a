-- The reference merchant's whole state. Every table is written inside the transaction of the event that
-- causes the write (a notification, a callback's answer, a POS request), so a crash leaves either all
-- of an event's rows or none of them.

-- Every notification whose sign verified, as received: the evidence a merchant shows when the platform
-- and the merchant disagree about what was said.
CREATE TABLE IF NOT EXISTS notifications (
    id          INTEGER PRIMARY KEY,
    received_at TEXT    NOT NULL,  -- wall clock, GMT+8, yyyy-MM-dd HH:mm:ss
    method      TEXT    NOT NULL,
    order_id    INTEGER NOT NULL,
    params      TEXT    NOT NULL,  -- JSON array of [name, value], in arrival order, sign included
    outcome     TEXT    NOT NULL   -- what the merchant did about it, in words
);

-- One row per Taobao order (order_id = the trade id, FAQ 2.10).
CREATE TABLE IF NOT EXISTS orders (
    order_id       INTEGER PRIMARY KEY,
    token          TEXT    NOT NULL,  -- echoed on every callback for this order
    num            INTEGER NOT NULL,
    consume_type   INTEGER NOT NULL,  -- 0 no limit, 1 one use per code, 2 many uses per code
    mobile         TEXT,
    item_title     TEXT,
    valid_start    TEXT,
    valid_ends     TEXT,
    weeks          TEXT,              -- JSON array of weekdays, 1 = Monday, or NULL for every day
    status         TEXT    NOT NULL,  -- 'issued' | 'unissuable' | 'cancelled'
    rights_claimed INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT    NOT NULL
);

-- The codes we generated. UNIQUE over all orders, not per order: a POS only types a code, so the code
-- alone must find its order.
CREATE TABLE IF NOT EXISTS codes (
    code      TEXT    NOT NULL UNIQUE,
    order_id  INTEGER NOT NULL REFERENCES orders (order_id),
    position  INTEGER NOT NULL,  -- issue order inside the order, for stable verify_codes
    issued    INTEGER NOT NULL,  -- units the code could redeem when issued
    remaining INTEGER NOT NULL,  -- units it can still redeem
    voided    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS codes_by_order ON codes (order_id, position);

-- TOP callbacks still owed to the platform (the transactional outbox pattern). A row is written in the
-- same transaction as the notification that causes it, and the worker deletes nothing: it moves
-- status from 'pending' to 'done', 'failed' (terminal answer, or gave up) or 'dropped' (order cancelled).
CREATE TABLE IF NOT EXISTS outbox (
    id              INTEGER PRIMARY KEY,
    order_id        INTEGER NOT NULL,
    api             TEXT    NOT NULL,  -- 'send' | 'resend' | 'failsend'
    status          TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,  -- unix milliseconds
    created_at      INTEGER NOT NULL,  -- unix milliseconds
    last_error      TEXT
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (status, order_id, id);
-- The worker's read of due rows walks this in due order and stops at its limit: without it every read sorted
-- the whole backlog, so a backlog (a flash sale) made each read slower, and the worker fell further behind.
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_attempt_at);

-- Redemptions made at our POS, named by the serial we chose, so a reverse can name them again.
CREATE TABLE IF NOT EXISTS consumes (
    serial_num TEXT    PRIMARY KEY,
    order_id   INTEGER NOT NULL,
    code       TEXT    NOT NULL,
    num        INTEGER NOT NULL,
    posid      TEXT,
    status     TEXT    NOT NULL,  -- 'pending' | 'done' | 'failed' | 'reversed'
    created_at TEXT    NOT NULL,
    last_error TEXT
);
