"""SQLAlchemy Core tables: the one schema for SQLite (embedded) and PostgreSQL (production).

Amounts are BIGINT in their asset's unit (tonnes or fen); times are BIGINT microseconds since the
Unix epoch (UTC). The database backs the ledger's row-level invariants with CHECK constraints, so a
bug in the kernel or a hand-written UPDATE cannot leave a holder account below zero available.
The schema is created and changed only by the Alembic migrations next to this module; a test keeps
the two in step.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

# SQLite makes only INTEGER PRIMARY KEY an alias of the rowid (auto-increment).
Id = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

assets = Table(
    "assets",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("kind", String(8), nullable=False),  # unit | cash
    Column("vintage", Integer),
    CheckConstraint("kind IN ('unit', 'cash')", name="kind"),
)

holders = Table(
    "holders",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("controller", String(64)),  # the actual controller, links related accounts
    Column("state", String(20), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # Unified social credit code (organisations) or ID number (people): one subject, one holder.
    Column("code", String(64)),
    Index("uq_holders_code", "code", unique=True),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("holder", String(64), ForeignKey("holders.id"), nullable=False),
    Column("purpose", String(20), nullable=False),
    Column("asset", String(16), ForeignKey("assets.code"), nullable=False),
    Column("flags", Integer, nullable=False),
    Column("debits_pending", BigInteger, nullable=False),
    Column("debits_posted", BigInteger, nullable=False),
    Column("credits_pending", BigInteger, nullable=False),
    Column("credits_posted", BigInteger, nullable=False),
    Column("last_transfer", BigInteger),  # ordinal of the latest transfer touching the account
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("holder", "purpose", "asset", name="uq_accounts_key"),
    CheckConstraint(
        "debits_pending >= 0 AND debits_posted >= 0 AND credits_pending >= 0 "
        "AND credits_posted >= 0",
        name="buckets_not_negative",
    ),
    # Flag 1 = DEBITS_MUST_NOT_EXCEED_CREDITS (every holder account).
    CheckConstraint(
        "(flags & 1) = 0 OR credits_posted - debits_posted - debits_pending >= 0",
        name="available_not_negative",
    ),
)

# Transfers are numbered 1, 2, 3, ... in the order they were accepted (`ordinal`, which on SQLite is
# the rowid). Each row links to the previous transfer of its debit and of its credit account, and
# the account row to its latest: an account's history is a walk down that chain, so the hot insert
# needs no secondary index on account ids (two random-order B-trees cost ~10 us a transfer on
# SQLite, measured, more than everything else together). For the same reason neither transfers
# nor holds carry foreign keys to accounts: PostgreSQL checks each with a per-row trigger and a
# key-share lock (~10 us a transfer, measured). Accounts are never deleted, only the kernel writes
# these rows and only between accounts it loaded, and `cets audit verify` reports any row naming
# an account that does not exist.
ALLOCATED = "code IN ('allocate', 'true_up')"
BANK_MONEY = "code IN ('deposit', 'withdraw')"
ORDER_OPEN = "status IN ('open', 'partially_filled')"
TRADE_UNSETTLED = "settled_seq IS NULL"
transfers = Table(
    "transfers",
    metadata,
    Column("ordinal", Id, primary_key=True, autoincrement=False),
    Column("id", String(128), nullable=False),
    Column("debit_account_id", Id, nullable=False),
    Column("credit_account_id", Id, nullable=False),
    Column("asset", String(16), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("code", String(32), nullable=False),
    Column("flags", Integer, nullable=False),
    Column("pending_id", String(128)),
    Column("ref", String(128)),
    Column("timestamp", BigInteger, nullable=False),
    Column("seq", BigInteger, nullable=False),  # the journal entry of the command
    Column("debit_prev", BigInteger),  # previous transfer of the debit account
    Column("credit_prev", BigInteger),  # previous transfer of the credit account
    UniqueConstraint("id", name="uq_transfers_id"),
    CheckConstraint("amount >= 0", name="amount_not_negative"),
    # Partial: only allocation transfers are indexed (the position limit reads a key emitter's
    # allocation), so the transfers of trading and settlement pay nothing for them.
    Index(
        "ix_transfers_allocation_credit",
        "credit_account_id",
        sqlite_where=text(ALLOCATED),
        postgresql_where=text(ALLOCATED),
    ),
    Index(
        "ix_transfers_allocation_debit",
        "debit_account_id",
        sqlite_where=text(ALLOCATED),
        postgresql_where=text(ALLOCATED),
    ),
    # Partial: the money in and out of the banks by time (reconciliation with their statements).
    Index(
        "ix_transfers_bank_money",
        "timestamp",
        sqlite_where=text(BANK_MONEY),
        postgresql_where=text(BANK_MONEY),
    ),
)

holds = Table(
    "holds",
    metadata,
    Column("id", String(128), primary_key=True),  # the pending transfer's id
    Column("debit_account_id", Id, nullable=False),
    Column("credit_account_id", Id, nullable=False),
    Column("asset", String(16), nullable=False),
    Column("code", String(32), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("remaining", BigInteger, nullable=False),
    Column("ref", String(128)),
    Column("timestamp", BigInteger, nullable=False),
    CheckConstraint("remaining >= 0 AND remaining <= amount", name="remaining_within_amount"),
    Index("ix_holds_debit_account_id", "debit_account_id"),
    Index("ix_holds_ref", "ref"),
)

# Command-level idempotency for the service's commands (registry operations): every command id
# ever given, with its kind and canonical body and what became of it: accepted (`seq`, the journal
# entry) or refused (`code`, `message`). A repeat with the same body gets the same answer, refusals
# included.
commands = Table(
    "commands",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("seq", BigInteger),
    Column("code", String(64)),
    Column("message", Text),
    Column("at_us", BigInteger, nullable=False),
)

journal = Table(
    "journal",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at_us", BigInteger, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("hash", String(64), nullable=False),
)

# One row: the last journal entry. Writers lock it (PostgreSQL: SELECT ... FOR UPDATE) so the
# journal stays one gapless chain however many processes write.
journal_head = Table(
    "journal_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("transfers", BigInteger, nullable=False),  # ordinal of the last transfer
    CheckConstraint("id = 1", name="single_row"),
)

# People who act (staff of the institutions, operators of holders' accounts) and their API keys.
# A key is `cets_<id>_<secret>`; only the SHA-256 of the secret is stored (the secret is 256
# random bits, so a fast hash cannot be brute-forced), and it is compared in constant time.
persons = Table(
    "persons",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(32), nullable=False),
    Column("holder", String(64), ForeignKey("holders.id")),
    Column("permissions", String(200), nullable=False),  # space-separated operator permissions
    Column("active", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("person", String(64), ForeignKey("persons.id"), nullable=False),
    Column("secret_sha256", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger),
    Column("revoked_at", BigInteger),
    Index("ix_api_keys_person", "person"),
)

# Four-eyes requests: an operation (kind + parameters) parked until a second person decides. Its
# id is the operation's client id, which the operation keeps when it finally runs.
approvals = Table(
    "approvals",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("params", Text, nullable=False),  # canonical JSON
    Column("requested_by", String(64), nullable=False),
    Column("requested_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),  # pending approved rejected expired
    Column("decided_by", String(64)),
    Column("decided_at", BigInteger),
    Column("reason", Text),
    Column("code", String(64)),  # what the approved operation came to (None: accepted)
    Index("ix_approvals_state", "state"),
)

# Columns in the order of the domain dataclasses' fields: `Account(*row)`, `Hold(*row)`,
# `Transfer(*row)`.
ACCOUNT_FIELDS = tuple(
    accounts.c[name]
    for name in (
        "id",
        "holder",
        "purpose",
        "asset",
        "flags",
        "debits_pending",
        "debits_posted",
        "credits_pending",
        "credits_posted",
    )
)
HOLD_FIELDS = tuple(
    holds.c[name]
    for name in (
        "id",
        "debit_account_id",
        "credit_account_id",
        "asset",
        "code",
        "amount",
        "remaining",
        "ref",
        "timestamp",
    )
)
TRANSFER_FIELDS = tuple(
    transfers.c[name]
    for name in (
        "id",
        "debit_account_id",
        "credit_account_id",
        "asset",
        "amount",
        "code",
        "flags",
        "pending_id",
        "ref",
        "timestamp",
    )
)

# One row per instrument and trading day: the daily bar, whoever made it (an importer of published
# quotes, later the trading engine at day close). Prices are fen per tonne, volumes whole tonnes,
# amounts fen. `day` is the Asia/Shanghai trading day (DATE; SQLite keeps it as ISO text, which
# sorts and compares like the date). A day without trades has no bar. `volume_t`/`amount_fen`
# count all the day's trades and `block_*` the block (agreement) part of them, as
# `cets.domain.marketdata.klines.DailyStats` does (0 when a source does not split them out).
# `open/high/low` are NULL together when the source gives no range (a close-only series such as
# the Hubei CSV, a market publishing only its average): draw such a day flat at its close.
# `close_fen` is always there. `source` says where the bar came from (the file's name, the engine).
daily_bars = Table(
    "daily_bars",
    metadata,
    Column("instrument", String(32), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("open_fen", BigInteger),
    Column("high_fen", BigInteger),
    Column("low_fen", BigInteger),
    Column("close_fen", BigInteger, nullable=False),
    Column("volume_t", BigInteger, nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("block_volume_t", BigInteger, nullable=False, server_default="0"),
    Column("block_amount_fen", BigInteger, nullable=False, server_default="0"),
    Column("source", String(64), nullable=False),
    # The previous close the day's price band was measured from (the engine's days; NULL for
    # imported bars and days closed before migration 0011).
    Column("prev_close_fen", BigInteger),
    CheckConstraint(
        "close_fen > 0 AND volume_t >= 0 AND amount_fen >= 0 AND block_volume_t >= 0 "
        "AND block_amount_fen >= 0",
        name="values_not_negative",
    ),
    CheckConstraint(
        "(open_fen IS NULL AND high_fen IS NULL AND low_fen IS NULL) OR "
        "(open_fen IS NOT NULL AND high_fen IS NOT NULL AND low_fen IS NOT NULL "
        "AND low_fen > 0 AND low_fen <= open_fen AND open_fen <= high_fen "
        "AND low_fen <= close_fen AND close_fen <= high_fen)",
        name="range_holds_open_and_close",
    ),
)

# The trading venue. `venue` is one row: the market-wide halt and a version every venue command
# bumps, so an engine sees that another process changed the books and rebuilds them. One row per
# instrument (a unit asset traded) with the previous close its band is measured from.
venue = Table(
    "venue",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", BigInteger, nullable=False),
    Column("halted", Integer, nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)

instruments = Table(
    "instruments",
    metadata,
    Column("symbol", String(16), primary_key=True),
    Column("prev_close_fen", BigInteger, nullable=False),
    Column("halted", Integer, nullable=False),
    CheckConstraint("prev_close_fen > 0", name="prev_close_positive"),
)

# Every order given, accepted or not, and its state now. `seq` is its arrival order on the venue
# (time priority): the books are rebuilt by re-entering the open orders in seq order.
orders = Table(
    "orders",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("instrument", String(16), nullable=False),
    Column("account", String(64), nullable=False),
    Column("side", String(4), nullable=False),
    Column("mode", String(8), nullable=False),
    Column("price_fen", BigInteger, nullable=False),
    Column("quantity_t", BigInteger, nullable=False),
    Column("filled_t", BigInteger, nullable=False),
    Column("cancelled_t", BigInteger, nullable=False),
    Column("status", String(20), nullable=False),
    Column("reason", String(64)),
    Column("day", Date, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("closed_us", BigInteger),  # when it was cancelled or expired (migration 0011)
    CheckConstraint(
        "filled_t >= 0 AND cancelled_t >= 0 AND filled_t + cancelled_t <= quantity_t",
        name="filled_within_quantity",
    ),
    Index("ix_orders_status", "status"),
    Index("ix_orders_seq", "seq"),  # the next arrival number is max(seq) + 1
    Index("ix_orders_day", "day"),  # a day's orders (supervision's live scan)
    # Partial: an account's open orders (the position limit counts its open bids).
    Index(
        "ix_orders_open_by_account",
        "account",
        "instrument",
        sqlite_where=text(ORDER_OPEN),
        postgresql_where=text(ORDER_OPEN),
    ),
)

# Trades in the order they were made (`ordinal`; id T<ordinal>), settled by the day's end run.
trades = Table(
    "trades",
    metadata,
    Column("ordinal", BigInteger, primary_key=True, autoincrement=False),
    Column("id", String(32), nullable=False),
    Column("instrument", String(16), nullable=False),
    Column("mode", String(8), nullable=False),
    Column("buy_order", String(100), nullable=False),
    Column("sell_order", String(100), nullable=False),
    Column("buyer", String(64), nullable=False),
    Column("seller", String(64), nullable=False),
    Column("price_fen", BigInteger, nullable=False),
    Column("quantity_t", BigInteger, nullable=False),
    Column("buyer_fee_fen", BigInteger, nullable=False),
    Column("seller_fee_fen", BigInteger, nullable=False),
    Column("day", Date, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("settled_seq", BigInteger),  # the journal entry that settled it
    Column("run", String(40)),  # the settlement run it is cleared in (set at the day's end)
    UniqueConstraint("id", name="uq_trades_id"),
    Index("ix_trades_day", "day"),
    Index("ix_trades_buy_order", "buy_order"),  # the fees a buy order has been charged so far
    # Partial: what a buyer bought and has not received (T+1, the position limit).
    Index(
        "ix_trades_unsettled_by_buyer",
        "buyer",
        "instrument",
        sqlite_where=text(TRADE_UNSETTLED),
        postgresql_where=text(TRADE_UNSETTLED),
    ),
    Index("ix_trades_run", "run", "ordinal"),  # a run's trades, delivered in chunks
    Index("ix_trades_seller_day", "seller", "day"),  # T+1: a day's sale proceeds
    Index("ix_trades_buyer_day", "buyer", "instrument", "day"),  # T+1: a day's purchases
)

# One-way auctions (单向竞价). The auction's units and the bids' funds are held by `orders` rows of
# mode `auction` (the auction's own sell order carries the auction's id), so trades, settlement and
# the release of holds are the venue's own. This row keeps what the order rows cannot: the reserve
# price, the pricing rule, the optional window (microseconds, UTC; NULL: the day's sessions), the
# state, and after close the uniform clearing price (the lowest accepted bid; NULL for pay-as-bid
# or when nothing filled).
auctions = Table(
    "auctions",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("instrument", String(16), nullable=False),
    Column("seller", String(64), nullable=False),
    Column("quantity_t", BigInteger, nullable=False),
    Column("reserve_fen", BigInteger, nullable=False),
    Column("pricing", String(12), nullable=False),
    Column("opens_us", BigInteger),
    Column("closes_us", BigInteger),
    Column("state", String(12), nullable=False),
    Column("day", Date, nullable=False),
    Column("opened_us", BigInteger, nullable=False),
    Column("closed_us", BigInteger),
    Column("clearing_fen", BigInteger),
    CheckConstraint("quantity_t > 0 AND reserve_fen > 0", name="amounts_positive"),
    CheckConstraint("pricing IN ('uniform', 'pay_as_bid')", name="pricing_known"),
    CheckConstraint("state IN ('open', 'closed')", name="state_known"),
    CheckConstraint(
        "opens_us IS NULL OR closes_us IS NULL OR opens_us < closes_us", name="window_ordered"
    ),
    Index("ix_auctions_state", "state"),
)

# Which auction each bid (an `orders` row of mode `auction`, side buy) was given to.
auction_bids = Table(
    "auction_bids",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("auction", String(100), ForeignKey("auctions.id"), nullable=False),
    Index("ix_auction_bids_auction", "auction"),
)

# Block agreement negotiation (大宗协议). An inquiry (询价) asks for quotes and commits to nothing:
# it holds nothing and is not an order. Its price is an optional limit (NULL: none given);
# `to_account` the one counterparty it is put to (NULL: anyone); `status` open, cancelled, expired
# or rejected (`reason` the code). Its id shares the block desk's id space with the orders.
block_inquiries = Table(
    "block_inquiries",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("instrument", String(16), nullable=False),
    Column("account", String(64), nullable=False),
    Column("side", String(4), nullable=False),
    Column("quantity_t", BigInteger, nullable=False),
    Column("price_fen", BigInteger),
    Column("to_account", String(64)),
    Column("status", String(20), nullable=False),
    Column("reason", String(64)),
    Column("day", Date, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    CheckConstraint(
        "quantity_t > 0 AND (price_fen IS NULL OR price_fen > 0)", name="amounts_positive"
    ),
    Index("ix_block_inquiries_status", "status"),
)

# What a block quote's `orders` row cannot say: the one holder who may accept it (`to_account`),
# the quote or inquiry it answers (`reply_to`: a counter-offer), and the negotiation it belongs to
# (`thread`: the id of the inquiry or quote that began it). A block quote put to anyone and
# answering nothing has no row here.
block_offers = Table(
    "block_offers",
    metadata,
    Column("id", String(100), ForeignKey("orders.id"), primary_key=True),
    Column("thread", String(100), nullable=False),
    Column("reply_to", String(100)),
    Column("to_account", String(64)),
    Index("ix_block_offers_thread", "thread"),
)

# Settlement runs (DOMAIN.md, "Settlement"). A `daily` run clears the trades of one trading day
# (trades.run names it); a `correction` run carries its own legs (`correction_legs`) and names the
# run it corrects. A run is prepared, then confirmed, then delivered; `breaks_accepted` is the
# confirmer's written reason when reconciliation listed breaks; objections are taken until
# `objections_until` (the next trading day's opening).
settlement_runs = Table(
    "settlement_runs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("day", Date, nullable=False),
    Column("kind", String(12), nullable=False),
    Column("corrects", String(40)),
    Column("reason", Text),
    Column("status", String(12), nullable=False),
    Column("trades", BigInteger, nullable=False),
    Column("prepared_at", BigInteger, nullable=False),
    Column("prepared_by", String(64), nullable=False),
    Column("confirmed_at", BigInteger),
    Column("confirmed_by", String(64)),
    Column("breaks_accepted", Text),
    Column("delivered_at", BigInteger),
    Column("objections_until", BigInteger, nullable=False),
    CheckConstraint("kind IN ('daily', 'correction')", name="kind"),
    CheckConstraint("status IN ('prepared', 'confirmed', 'delivered')", name="status"),
    Index("ix_settlement_runs_day", "day"),
)

# An objection to a run by a party to it (or the registry operator), until the run's
# `objections_until`; `resolution` names the correction run that answers it, if any.
settlement_objections = Table(
    "settlement_objections",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("run", String(40), ForeignKey("settlement_runs.id"), nullable=False),
    Column("account", String(64), nullable=False),
    Column("trade", String(32)),
    Column("text", Text, nullable=False),
    Column("by", String(64), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("resolution", String(40)),
    Index("ix_settlement_objections_run", "run"),
)

# A correction run's legs, in order: `amount` of `asset` from one (holder, purpose) account to
# another, delivered as one linked batch when the run is delivered.
correction_legs = Table(
    "correction_legs",
    metadata,
    Column("run", String(40), ForeignKey("settlement_runs.id"), primary_key=True),
    Column("n", Integer, primary_key=True, autoincrement=False),
    Column("from_holder", String(64), nullable=False),
    Column("from_purpose", String(20), nullable=False),
    Column("to_holder", String(64), nullable=False),
    Column("to_purpose", String(20), nullable=False),
    Column("asset", String(16), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("trade", String(32)),
    CheckConstraint("amount > 0", name="amount_positive"),
)

# Funds at settlement banks. A holder's one fund account is at one bank (`number`: its number
# there, unique at that bank); a holder without a row banks with the default bank `bank`.
fund_accounts = Table(
    "fund_accounts",
    metadata,
    Column("holder", String(64), ForeignKey("holders.id"), primary_key=True),
    Column("bank", String(64), ForeignKey("holders.id"), nullable=False),
    Column("number", String(64), nullable=False),
    Column("opened_at", BigInteger, nullable=False),
    UniqueConstraint("bank", "number", name="uq_fund_accounts_bank_number"),
)

# Withdrawal requests (id = the client's id): a hold `withdrawal:<id>` on the fund account until
# the bank reports it paid (posted) or rejected (voided, `reason` why); `settled_at` then.
withdrawals = Table(
    "withdrawals",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("bank", String(64), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("status", String(12), nullable=False),
    Column("reason", Text),
    Column("requested_at", BigInteger, nullable=False),
    Column("requested_by", String(64), nullable=False),
    Column("settled_at", BigInteger),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
    CheckConstraint("status IN ('requested', 'paid', 'rejected')", name="status"),
    Index("ix_withdrawals_bank_status", "bank", "status"),
)

# Every line of every bank statement imported, as the bank wrote it, for reconciliation; a
# reference is imported once per bank (a statement imported again changes nothing).
bank_statement_lines = Table(
    "bank_statement_lines",
    metadata,
    Column("bank", String(64), primary_key=True),
    Column("reference", String(100), primary_key=True),
    Column("day", Date, nullable=False),
    Column("account", String(64), nullable=False),
    Column("type", String(12), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("imported_at", BigInteger, nullable=False),
    CheckConstraint("type IN ('deposit', 'withdrawal')", name="type"),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
)


# Tables kept in their own modules, on this metadata (imported here so that `metadata` is whole).
from cets.adapters.sql import compliance_tables, supervision_tables  # noqa: E402, F401
