//! One schema for both backends. Each migration is written once, with the few words that differ
//! between SQLite and PostgreSQL as placeholders, and runs at start in its own transaction.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    sql: &'static str,
    /// Statements only PostgreSQL needs (storage tuning).
    postgres_only: &'static str,
}

/// Ids are 16-byte big-endian blobs (byte order = numeric order). Transfers and accounts are keyed
/// by them directly: ids are time-ordered, so inserts append. There is deliberately no index on a
/// transfer's accounts yet: each would add a random-position insert per transfer (DESIGN.md §7);
/// history queries will get their own, narrower tables.
macro_rules! transfers_table {
    () => {
        "CREATE TABLE transfers (
    id {BLOB} PRIMARY KEY,
    debit_account_id {BLOB} NOT NULL,
    credit_account_id {BLOB} NOT NULL,
    amount BIGINT NOT NULL,
    pending_id {BLOB},
    currency TEXT NOT NULL,
    code INTEGER NOT NULL,
    reference {BLOB} NOT NULL,
    flags INTEGER NOT NULL,
    timeout BIGINT NOT NULL,
    ts BIGINT NOT NULL,
    pending_status INTEGER,
    expires_at BIGINT
){WITHOUT_ROWID};"
    };
}

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "ledger",
    sql: concat!("
CREATE TABLE ledger_meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_ts BIGINT NOT NULL,
    commit_seq BIGINT NOT NULL
);
INSERT INTO ledger_meta (id, last_ts, commit_seq) VALUES (1, 0, 0);
CREATE TABLE accounts (
    id {BLOB} PRIMARY KEY,
    currency TEXT NOT NULL,
    code INTEGER NOT NULL,
    owner {BLOB} NOT NULL,
    flags INTEGER NOT NULL,
    debits_pending BIGINT NOT NULL,
    debits_posted BIGINT NOT NULL,
    credits_pending BIGINT NOT NULL,
    credits_posted BIGINT NOT NULL,
    ts BIGINT NOT NULL
){WITHOUT_ROWID};
", transfers_table!(), "
CREATE INDEX transfers_due ON transfers (expires_at) WHERE pending_status = 1 AND expires_at IS NOT NULL;
"),
    postgres_only: "",
}, Migration {
    version: 2,
    name: "account_journal",
    // See journal.rs: packed account states appended per commit, folded into `accounts` at checkpoints.
    sql: "CREATE TABLE account_journal (seq BIGINT PRIMARY KEY, data {BLOB} NOT NULL);",
    // Already dense: do not spend CPU compressing it.
    postgres_only: "ALTER TABLE account_journal ALTER COLUMN data SET STORAGE EXTERNAL;",
}, Migration {
    version: 3,
    name: "merchants_and_orders",
    sql: "
-- The platform's signing keys. Each is offered both as a public key (PUB_KEY_ID_…) and as an X.509
-- certificate (serial_no); several overlap during a rotation.
CREATE TABLE platform_keys (
    key_id TEXT PRIMARY KEY,
    serial_no TEXT NOT NULL UNIQUE,
    private_key TEXT NOT NULL,
    public_key TEXT NOT NULL,
    certificate TEXT NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    -- Set when a newer key replaces this one: it stays valid until then (the overlap window).
    retires_at BIGINT,
    created_at BIGINT NOT NULL
);
-- Merchants: direct ones, service providers (服务商) and their sub-merchants (特约商户, parent_mchid).
CREATE TABLE merchants (
    mchid TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    parent_mchid TEXT,
    notify_url TEXT,
    serial_no TEXT NOT NULL,
    public_key TEXT NOT NULL,
    apiv3_key TEXT NOT NULL,
    platform_key_mode TEXT NOT NULL,
    -- The ledger account payments are credited to until settlement, and the fee rate in basis points.
    unsettled_account {BLOB} NOT NULL,
    fee_rate_bp INTEGER NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE merchant_appids (
    mchid TEXT NOT NULL,
    appid TEXT NOT NULL,
    PRIMARY KEY (mchid, appid)
);
CREATE TABLE orders (
    id {BLOB} PRIMARY KEY,
    mchid TEXT NOT NULL,
    out_trade_no TEXT NOT NULL,
    transaction_id TEXT NOT NULL UNIQUE,
    appid TEXT NOT NULL,
    trade_type TEXT NOT NULL,
    description TEXT NOT NULL,
    attach TEXT,
    notify_url TEXT NOT NULL,
    goods_tag TEXT,
    total BIGINT NOT NULL,
    currency TEXT NOT NULL,
    payer_openid TEXT,
    trade_state TEXT NOT NULL,
    expire_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    success_at BIGINT,
    request_digest TEXT NOT NULL,
    code TEXT NOT NULL UNIQUE,
    payer_user {BLOB},
    payment_transfer {BLOB},
    UNIQUE (mchid, out_trade_no)
){WITHOUT_ROWID};
-- A wallet's history is read from the business tables, not from the ledger's transfers.
CREATE INDEX orders_payer ON orders (payer_user, success_at);
",
    postgres_only: "",
}, Migration {
    version: 4,
    name: "users_and_wallets",
    sql: "
-- Users of the wallet. The PIN is an argon2 hash; five wrong tries lock PIN payments (pin_locked_until).
CREATE TABLE users (
    id {BLOB} PRIMARY KEY,
    phone TEXT NOT NULL UNIQUE,
    pin_hash TEXT,
    pin_failures BIGINT NOT NULL,
    pin_locked_until BIGINT NOT NULL,
    password_free_limit BIGINT NOT NULL,
    wallet_account {BLOB} NOT NULL,
    created_at BIGINT NOT NULL
){WITHOUT_ROWID};
-- One openid per (user, appid), as merchants see users.
CREATE TABLE openids (
    openid TEXT PRIMARY KEY,
    appid TEXT NOT NULL,
    user_id {BLOB} NOT NULL,
    UNIQUE (user_id, appid)
);
-- There is no SMS gateway: codes go here, where the admin API and the CLI read them.
CREATE TABLE sms_outbox (
    id {BLOB} PRIMARY KEY,
    phone TEXT NOT NULL,
    code TEXT NOT NULL,
    purpose TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
){WITHOUT_ROWID};
CREATE INDEX sms_outbox_phone ON sms_outbox (phone, created_at);
CREATE TABLE wallet_sessions (
    token TEXT PRIMARY KEY,
    user_id {BLOB} NOT NULL,
    expires_at BIGINT NOT NULL
);
",
    postgres_only: "",
}, Migration {
    version: 5,
    name: "notifications",
    sql: "
-- The notification outbox: a row written in the same transaction as the state change it reports, then
-- delivered (signed, the resource encrypted) by a worker with WeChat Pay's retry schedule.
CREATE TABLE notifications (
    id {BLOB} PRIMARY KEY,
    mchid TEXT NOT NULL,
    event_type TEXT NOT NULL,
    reference TEXT NOT NULL,
    url TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT
){WITHOUT_ROWID};
CREATE INDEX notifications_due ON notifications (state, next_attempt_at);
CREATE INDEX notifications_mchid ON notifications (mchid, created_at);
CREATE TABLE notification_attempts (
    notification_id {BLOB} NOT NULL,
    attempt BIGINT NOT NULL,
    at BIGINT NOT NULL,
    status BIGINT,
    error TEXT,
    PRIMARY KEY (notification_id, attempt)
);
",
    postgres_only: "",
}, Migration {
    version: 6,
    name: "bank_cards",
    sql: "
CREATE TABLE bank_cards (
    id {BLOB} PRIMARY KEY,
    user_id {BLOB} NOT NULL,
    card_no TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (user_id, card_no)
);
-- Top-ups and withdrawals: idempotent on the user's request_id; the money is held by a pending ledger
-- transfer until the bank answers (posted on success, voided on failure).
CREATE TABLE bank_operations (
    id {BLOB} PRIMARY KEY,
    user_id {BLOB} NOT NULL,
    request_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    card_no TEXT NOT NULL,
    amount BIGINT NOT NULL,
    state TEXT NOT NULL,
    hold_transfer {BLOB} NOT NULL,
    error TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT,
    UNIQUE (user_id, request_id)
);
CREATE INDEX bank_operations_pending ON bank_operations (state, created_at);
-- The built-in simulated bank's own book (a real connector keeps this at the bank).
CREATE TABLE simulated_bank (
    operation TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    card_no TEXT NOT NULL,
    amount BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    completes_at BIGINT NOT NULL
);
",
    postgres_only: "",
}, Migration {
    version: 7,
    name: "payment_codes_and_refunds",
    sql: "
-- The user's payment codes (付款码): 18 digits, single use, valid about a minute.
CREATE TABLE payment_codes (
    code TEXT PRIMARY KEY,
    user_id {BLOB} NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    order_id {BLOB}
);
CREATE INDEX payment_codes_user ON payment_codes (user_id, created_at);
-- What a payment cost the merchant (the fee and its rate, fixed at payment time), whether it was paid
-- without the PIN (ten of those a day at most), and what has been refunded since — money and fee.
ALTER TABLE orders ADD COLUMN fee BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN fee_rate_bp BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN fee_transfer {BLOB};
ALTER TABLE orders ADD COLUMN pin_free BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN refunded BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN fee_refunded BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN refund_count BIGINT NOT NULL DEFAULT 0;
-- Bills read a merchant's day by success time.
CREATE INDEX orders_mchid_success ON orders (mchid, success_at);
-- Refunds: idempotent on (mchid, out_refund_no); the money goes back as one ledger chain (the fee share
-- from the platform to the merchant, then the refund from the merchant to the wallet).
CREATE TABLE refunds (
    id {BLOB} PRIMARY KEY,
    refund_id TEXT NOT NULL UNIQUE,
    mchid TEXT NOT NULL,
    out_refund_no TEXT NOT NULL,
    order_id {BLOB} NOT NULL,
    reason TEXT,
    notify_url TEXT,
    amount BIGINT NOT NULL,
    fee_refund BIGINT NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    request_digest TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    success_at BIGINT,
    refund_transfer {BLOB},
    fee_refund_transfer {BLOB},
    UNIQUE (mchid, out_refund_no)
){WITHOUT_ROWID};
CREATE INDEX refunds_order ON refunds (order_id);
CREATE INDEX refunds_mchid_success ON refunds (mchid, success_at);
",
    postgres_only: "",
}, Migration {
    version: 8,
    name: "withholding_agreements",
    sql: "
-- Withholding agreements (签约代扣): a merchant proposes, the user signs, the merchant charges within the
-- limits until either side terminates. Idempotent on (mchid, out_contract_code).
CREATE TABLE agreements (
    id {BLOB} PRIMARY KEY,
    contract_id TEXT NOT NULL UNIQUE,
    mchid TEXT NOT NULL,
    appid TEXT NOT NULL,
    out_contract_code TEXT NOT NULL,
    user_id {BLOB} NOT NULL,
    description TEXT NOT NULL,
    per_charge_limit BIGINT NOT NULL,
    per_day_limit BIGINT NOT NULL,
    notify_url TEXT,
    state TEXT NOT NULL,
    request_digest TEXT NOT NULL,
    proposed_at BIGINT NOT NULL,
    signed_at BIGINT,
    terminated_at BIGINT,
    terminated_by TEXT,
    UNIQUE (mchid, out_contract_code)
){WITHOUT_ROWID};
CREATE INDEX agreements_user ON agreements (user_id, state);
-- Orders charged through an agreement name it (and the day's sum is read by it).
ALTER TABLE orders ADD COLUMN agreement_id {BLOB};
CREATE INDEX orders_agreement ON orders (agreement_id, success_at);
-- Pre-debit notices (预扣费通知): what the merchant told the user it will charge.
CREATE TABLE agreement_notices (
    id {BLOB} PRIMARY KEY,
    agreement_id {BLOB} NOT NULL,
    amount BIGINT NOT NULL,
    description TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX agreement_notices_agreement ON agreement_notices (agreement_id, created_at);
-- The SMS outbox also carries messages that are not login codes (pre-debit notices, reminders).
ALTER TABLE sms_outbox ADD COLUMN message TEXT;
",
    postgres_only: "",
}, Migration {
    version: 9,
    name: "transit",
    sql: "
-- Transit operators: a merchant that runs gates, its operator group (the scope codes carry), its fares
-- (JSON), how many codes a daily credential allows, and the ledger account holding riders' deposits.
CREATE TABLE transit_operators (
    scope BIGINT PRIMARY KEY,
    mchid TEXT NOT NULL UNIQUE,
    fare_table TEXT NOT NULL,
    max_uses BIGINT NOT NULL,
    stale_fare_limit BIGINT NOT NULL,
    deposit BIGINT NOT NULL,
    deposit_account {BLOB} NOT NULL,
    created_at BIGINT NOT NULL
);
-- The ride code's keys: issuer keys (sign credentials) and list keys (sign key lists and blacklists).
CREATE TABLE ridecode_keys (
    key_id BIGINT PRIMARY KEY,
    purpose TEXT NOT NULL,
    suite BIGINT NOT NULL,
    seed TEXT NOT NULL,
    public_key TEXT NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    revoked_at BIGINT,
    created_at BIGINT NOT NULL
);
-- A rider's card with an operator: the agreement charges ride, the deposit is held, the account id is
-- the pseudonym codes carry. State ACTIVE, LEAVING (card refund asked), CLOSED.
CREATE TABLE transit_cards (
    id {BLOB} PRIMARY KEY,
    scope BIGINT NOT NULL,
    user_id {BLOB} NOT NULL,
    card_no TEXT NOT NULL UNIQUE,
    account_id BIGINT NOT NULL UNIQUE,
    agreement_id {BLOB} NOT NULL,
    deposit BIGINT NOT NULL,
    state TEXT NOT NULL,
    refund_requested_at BIGINT,
    reminded_at BIGINT,
    closed_at BIGINT,
    -- A clone was seen: the account stays on the blacklist until then (its credentials' expiry).
    blocked_until BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX transit_cards_user ON transit_cards (user_id, scope);
-- The issuance table: every credential signed, with the device key it certifies.
CREATE TABLE transit_credentials (
    account_id BIGINT NOT NULL,
    sequence BIGINT NOT NULL,
    key_id BIGINT NOT NULL,
    device_key TEXT NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    max_fare BIGINT NOT NULL,
    max_uses BIGINT NOT NULL,
    issued_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, sequence)
);
CREATE TABLE terminals (
    terminal_id BIGINT PRIMARY KEY,
    scope BIGINT NOT NULL,
    stop_id BIGINT NOT NULL,
    public_key TEXT NOT NULL,
    name TEXT NOT NULL,
    registered_at BIGINT NOT NULL,
    highest_sequence BIGINT NOT NULL,
    records BIGINT NOT NULL,
    last_upload_at BIGINT
);
-- Every uploaded record, idempotent on (terminal, sequence); status ACCEPTED, CLONE (the same code
-- accepted elsewhere: never charged twice) or REJECTED (with the reason).
CREATE TABLE taps (
    terminal_id BIGINT NOT NULL,
    terminal_sequence BIGINT NOT NULL,
    digest TEXT NOT NULL,
    account_id BIGINT NOT NULL,
    credential_sequence BIGINT NOT NULL,
    counter BIGINT NOT NULL,
    time BIGINT NOT NULL,
    direction BIGINT NOT NULL,
    stop_id BIGINT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    ride_id {BLOB},
    received_at BIGINT NOT NULL,
    PRIMARY KEY (terminal_id, terminal_sequence)
);
CREATE INDEX taps_code ON taps (account_id, credential_sequence, counter);
-- Rides: an entry (and its exit) or a flat-fare tap, charged through the card's agreement. State OPEN
-- (an entry waiting for its exit), CHARGED, DEBT (the charge failed), CORRECTED (charged the maximum,
-- then the late partner tap brought the fare down and the difference was refunded).
CREATE TABLE rides (
    id {BLOB} PRIMARY KEY,
    card_id {BLOB} NOT NULL,
    account_id BIGINT NOT NULL,
    entry_time BIGINT,
    entry_stop BIGINT,
    exit_time BIGINT,
    exit_stop BIGINT,
    fare BIGINT NOT NULL,
    state TEXT NOT NULL,
    order_id {BLOB},
    created_at BIGINT NOT NULL,
    charged_at BIGINT
);
CREATE INDEX rides_account ON rides (account_id, state);
CREATE INDEX rides_state ON rides (state, entry_time);
CREATE TABLE transit_alarms (
    id {BLOB} PRIMARY KEY,
    terminal_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
",
    postgres_only: "",
}, Migration {
    version: 10,
    name: "login_limits",
    sql: "
-- Who asked for each login code (the client address): the per-address send limit counts these rows.
ALTER TABLE sms_outbox ADD COLUMN client_addr TEXT;
CREATE INDEX sms_outbox_client ON sms_outbox (client_addr, created_at);
-- Wrong login codes per phone since its last login or lock, and until when its login is locked.
CREATE TABLE login_guards (
    phone TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    locked_until BIGINT NOT NULL
);
-- Sessions are kept as the SHA-256 of their token (hex), so that a copy of the database holds no live
-- session. The tokens stored in clear until now cannot be hashed in SQL on both backends: those
-- sessions end (their users log in again).
DROP TABLE wallet_sessions;
CREATE TABLE wallet_sessions (
    token_hash TEXT PRIMARY KEY,
    user_id {BLOB} NOT NULL,
    expires_at BIGINT NOT NULL
);
",
    postgres_only: "",
}, Migration {
    version: 11,
    name: "pin_tries_and_card_binding",
    sql: "
-- PIN tries being checked: reserved under the writer before argon2 runs, settled after it (so guesses
-- sent at once are checked at most as often as there are tries left). They lapse at pin_in_flight_until.
ALTER TABLE users ADD COLUMN pin_in_flight BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN pin_in_flight_until BIGINT NOT NULL DEFAULT 0;
-- Money moves to and from a card only once it is bound (the PIN, then the bank's one-time code).
-- Cards remembered on first use before this are not bound.
ALTER TABLE bank_cards ADD COLUMN bound_at BIGINT;
CREATE INDEX bank_cards_card_no ON bank_cards (card_no);
-- Binding requests: the bank sent the holder a code (code_sent), then bound or failed.
CREATE TABLE card_bindings (
    id {BLOB} PRIMARY KEY,
    user_id {BLOB} NOT NULL,
    card_no TEXT NOT NULL,
    state TEXT NOT NULL,
    error TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
){WITHOUT_ROWID};
CREATE INDEX card_bindings_user ON card_bindings (user_id, created_at);
-- The simulated bank's binding codes (a real bank keeps its own): tries counted, expiring.
CREATE TABLE simulated_bank_bindings (
    binding TEXT PRIMARY KEY,
    card_no TEXT NOT NULL,
    phone TEXT NOT NULL,
    code TEXT NOT NULL,
    tries BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    outcome TEXT NOT NULL
);
",
    postgres_only: "",
}, Migration {
    version: 12,
    name: "merchant_h5_domains",
    // The H5 domains a merchant registered (comma-separated host names): where an H5 payment's
    // redirect_url may return the payer.
    sql: "ALTER TABLE merchants ADD COLUMN h5_domains TEXT NOT NULL DEFAULT '';",
    postgres_only: "",
}, Migration {
    version: 13,
    name: "request_nonces",
    sql: "
-- v3 request nonces seen within the signature window, shared by every process on the database: a
-- signed request replayed to another process behind the same address is refused. Written after the
-- signature verifies (a forger cannot fill it); rows older than the window are pruned.
CREATE TABLE request_nonces (
    mchid TEXT NOT NULL,
    nonce TEXT NOT NULL,
    seen_at BIGINT NOT NULL,
    PRIMARY KEY (mchid, nonce)
){WITHOUT_ROWID};
CREATE INDEX request_nonces_seen ON request_nonces (seen_at);
",
    postgres_only: "",
}, Migration {
    version: 14,
    name: "card_bindings_per_card",
    // Binding requests are counted per card as well as per user (a day's limit on each).
    sql: "CREATE INDEX card_bindings_card ON card_bindings (card_no, created_at);",
    postgres_only: "",
}, Migration {
    version: 15,
    name: "login_failures",
    sql: "
-- Wrong login codes per client address (an IPv4 address, an IPv6 /64) in the last hour: an address gets
-- as many wrong codes as codes it may ask for (--sms-per-address). Older rows go when a new one comes.
CREATE TABLE login_failures (
    client_addr TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX login_failures_addr ON login_failures (client_addr, at);
",
    postgres_only: "",
}, Migration {
    version: 16,
    name: "merchant_staff_and_console",
    sql: "
-- A merchant's staff: who may open the merchant console (/console), by phone + SMS code, then their own
-- password (argon2). A phone is staff of one merchant. Wrong passwords are counted like PIN tries
-- (reserved before argon2 runs, settled after it: saoma_core::pin), five lock the console for hours.
CREATE TABLE staff (
    id {BLOB} PRIMARY KEY,
    mchid TEXT NOT NULL,
    phone TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    password_failures BIGINT NOT NULL DEFAULT 0,
    password_locked_until BIGINT NOT NULL DEFAULT 0,
    password_in_flight BIGINT NOT NULL DEFAULT 0,
    password_in_flight_until BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
){WITHOUT_ROWID};
CREATE INDEX staff_mchid ON staff (mchid);
-- Console sessions, kept as the SHA-256 of their token: 'password' after the SMS code (the second
-- factor still to come, short-lived), 'live' after the password.
CREATE TABLE console_sessions (
    token_hash TEXT PRIMARY KEY,
    staff_id {BLOB} NOT NULL,
    stage TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
",
    postgres_only: "",
}, Migration {
    version: 17,
    name: "transit_web_devices",
    sql: "
-- The web wallet's ride-code device (transit/device.rs): an online device, so the platform holds its key,
-- one per rider, operator and China day (device = '{user hex}.{scope}.{day}'), the seed sealed under the
-- master key and never sent to a browser; the credential issued for it (hex, the latest), and the last
-- counter drawn with its generation time (every code shown takes the next counter).
CREATE TABLE transit_web_devices (
    device TEXT PRIMARY KEY,
    user_id {BLOB} NOT NULL,
    scope BIGINT NOT NULL,
    day BIGINT NOT NULL,
    seed TEXT NOT NULL,
    credential TEXT,
    sequence BIGINT NOT NULL DEFAULT 0,
    not_after BIGINT NOT NULL DEFAULT 0,
    max_uses BIGINT NOT NULL DEFAULT 0,
    counter BIGINT NOT NULL DEFAULT 0,
    drawn_at BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
){WITHOUT_ROWID};
CREATE INDEX transit_web_devices_user ON transit_web_devices (user_id, scope, day);
",
    postgres_only: "",
}, Migration {
    version: 18,
    name: "operator_console",
    sql: "
-- Operator console sessions (/operator), opened with the admin token: kept as the SHA-256 of their
-- token, for 12 hours of real time (the sandbox's business clock does not end them).
CREATE TABLE operator_sessions (
    token_hash TEXT PRIMARY KEY,
    client_addr TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
-- Wrong admin tokens per client address (an IPv4 address, an IPv6 /64) since its last login or lock,
-- and until when that address may not try again.
CREATE TABLE operator_guards (
    client_addr TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    locked_until BIGINT NOT NULL
);
-- Runs of the ledger check from the operator console: the newest is shown. Totals per currency as JSON
-- (decimal strings: sums are 128-bit); a few violations in words.
CREATE TABLE ledger_checks (
    id {BLOB} PRIMARY KEY,
    checked_at BIGINT NOT NULL,
    clean BIGINT NOT NULL,
    accounts BIGINT NOT NULL,
    transfers BIGINT NOT NULL,
    pending_open BIGINT NOT NULL,
    totals TEXT NOT NULL,
    violations BIGINT NOT NULL,
    sample TEXT NOT NULL
){WITHOUT_ROWID};
-- The card an alarm is about (a clone's account id), where there is one; older alarms have none.
ALTER TABLE transit_alarms ADD COLUMN account_id BIGINT;
",
    postgres_only: "",
}, Migration {
    version: 19,
    name: "shop",
    sql: "
-- The shop (server shop/): a merchant's products, listed by its managers in the console and sold on its
-- public shop page. The picture (PNG or JPEG, at most 1 MiB, its type read from its first bytes) is kept
-- here. Stock never goes below zero: a payment takes it with a conditional update in its own job.
CREATE TABLE shop_products (
    id {BLOB} PRIMARY KEY,
    mchid TEXT NOT NULL,
    name TEXT NOT NULL,
    price BIGINT NOT NULL,
    stock BIGINT NOT NULL CHECK (stock >= 0),
    hidden BIGINT NOT NULL DEFAULT 0,
    picture {BLOB},
    picture_type TEXT,
    created_at BIGINT NOT NULL
){WITHOUT_ROWID};
CREATE INDEX shop_products_mchid ON shop_products (mchid, created_at);
-- The goods of a shop order (one product, a quantity); the buyer and paid_at are written by the payment's
-- job, with the stock taken.
CREATE TABLE shop_orders (
    order_id {BLOB} PRIMARY KEY,
    mchid TEXT NOT NULL,
    product_id {BLOB} NOT NULL,
    product_name TEXT NOT NULL,
    qty BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    buyer {BLOB},
    buyer_phone TEXT,
    paid_at BIGINT
){WITHOUT_ROWID};
CREATE INDEX shop_orders_paid ON shop_orders (mchid, paid_at);
-- A merchant's messages to the buyer of one of its paid shop orders, read in the buyer's wallet.
CREATE TABLE shop_messages (
    id {BLOB} PRIMARY KEY,
    mchid TEXT NOT NULL,
    order_id {BLOB} NOT NULL,
    buyer {BLOB} NOT NULL,
    body TEXT NOT NULL,
    sent_at BIGINT NOT NULL,
    read_at BIGINT
){WITHOUT_ROWID};
CREATE INDEX shop_messages_buyer ON shop_messages (buyer, sent_at);
CREATE INDEX shop_messages_order ON shop_messages (order_id);
-- An order with goods attached (the shop's): its payment takes their stock in the same job.
ALTER TABLE orders ADD COLUMN goods BIGINT NOT NULL DEFAULT 0;
",
    postgres_only: "",
}, Migration {
    version: 20,
    name: "console_part_two",
    sql: "
-- The console's orders search reads a merchant's orders of a day by creation time; an order's page reads
-- the notifications about it (by reference); ending a staff member's sessions finds them by staff.
CREATE INDEX orders_mchid_created ON orders (mchid, created_at);
CREATE INDEX notifications_reference ON notifications (mchid, reference);
CREATE INDEX console_sessions_staff ON console_sessions (staff_id);
",
    postgres_only: "",
}];

/// The benchmark's raw twin of the transfers table: same columns, same key, no ledger logic.
pub fn raw_table_sql(d: Dialect) -> String {
    let m = Migration { version: 0, name: "bench_raw", sql: transfers_table!(), postgres_only: "" };
    m.sql(d).replace("CREATE TABLE transfers", "CREATE TABLE IF NOT EXISTS bench_raw")
}

impl Migration {
    pub fn sql(&self, d: Dialect) -> String {
        let (blob, without_rowid) = match d {
            Dialect::Sqlite => ("BLOB", " WITHOUT ROWID"),
            Dialect::Postgres => ("BYTEA", ""),
        };
        let sql = self.sql.replace("{BLOB}", blob).replace("{WITHOUT_ROWID}", without_rowid);
        match d {
            Dialect::Sqlite => sql,
            Dialect::Postgres => format!("{sql}\n{}", self.postgres_only),
        }
    }
}

pub const TRANSFER_COLUMNS: &str =
    "id, debit_account_id, credit_account_id, amount, pending_id, currency, code, reference, flags, timeout, ts, pending_status, expires_at";
pub const ACCOUNT_COLUMNS: &str =
    "id, currency, code, owner, flags, debits_pending, debits_posted, credits_pending, credits_posted, ts";
