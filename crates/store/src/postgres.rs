//! PostgreSQL backend. Same schema and behaviour as SQLite. Writers in different processes take turns
//! through a transaction-scoped advisory lock (the equivalent of SQLite's `BEGIN IMMEDIATE`), so the
//! balances a batch reads cannot change under it and limits hold across processes. Bulk statements
//! over arrays (`unnest`) keep a batch to a handful of round trips.

use crate::schema::{raw_table_sql, Dialect, ACCOUNT_COLUMNS, MIGRATIONS, TRANSFER_COLUMNS};
use crate::sqlite::{currency_from, id_bytes, id_from, u16_from};
use crate::journal::Balances;
use crate::{Backend, Meta, Row as JobRow, StoreError, Value};
use postgres::types::private::BytesMut;
use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls, Row, SimpleQueryMessage, Statement};
use saoma_ledger::{Account, AccountFlags, AccountId, Changes, Ledger, PendingStatus, Transfer, TransferFlags, TransferId};
use std::collections::HashSet;
use std::sync::Arc;

pub struct Postgres {
    client: Client,
    stmts: Option<Stmts>,
    /// Jobs' statements, prepared once each, with their result's column names (shared by every row).
    prepared: std::collections::HashMap<String, (Statement, Arc<[String]>)>,
    /// Statements that go to the database with the next COMMIT, in its round trip.
    at_commit: String,
}

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) => match *ty {
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::BOOL => (*v != 0).to_sql(ty, out),
                _ => v.to_sql(ty, out),
            },
            Value::Text(s) => s.as_str().to_sql(ty, out),
            Value::Blob(b) => b.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn value_at(r: &Row, i: usize) -> Result<Value, StoreError> {
    let ty = r.columns()[i].type_().clone();
    Ok(match ty {
        Type::INT8 => r.try_get::<_, Option<i64>>(i)?.map_or(Value::Null, Value::Int),
        Type::INT4 => r.try_get::<_, Option<i32>>(i)?.map_or(Value::Null, |v| Value::Int(v as i64)),
        Type::INT2 => r.try_get::<_, Option<i16>>(i)?.map_or(Value::Null, |v| Value::Int(v as i64)),
        Type::BOOL => r.try_get::<_, Option<bool>>(i)?.map_or(Value::Null, |v| Value::Int(v as i64)),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => r.try_get::<_, Option<String>>(i)?.map_or(Value::Null, Value::Text),
        Type::BYTEA => r.try_get::<_, Option<Vec<u8>>>(i)?.map_or(Value::Null, Value::Blob),
        other => return Err(StoreError::Corrupt(format!("column of type {other}: jobs read integers, text and bytes"))),
    })
}

struct Stmts {
    accounts: Statement,
    transfers: Statement,
    due: Statement,
    insert_accounts: Statement,
    update_balances: Statement,
    insert_transfers: Statement,
    update_pending: Statement,
}

fn unnest_insert(table: &str) -> String {
    format!(
        "INSERT INTO {table} ({TRANSFER_COLUMNS}) SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::bytea[], $4::int8[], $5::bytea[], \
         $6::text[], $7::int4[], $8::bytea[], $9::int4[], $10::int8[], $11::int8[], $12::int4[], $13::int8[])"
    )
}

fn account_from_row(r: &Row) -> Result<Account, StoreError> {
    Ok(Account {
        id: AccountId(id_from(r.try_get::<_, &[u8]>(0)?)?),
        currency: currency_from(r.try_get::<_, &str>(1)?)?,
        code: u16_from(r.try_get::<_, i32>(2)? as i64, "account code")?,
        owner: id_from(r.try_get::<_, &[u8]>(3)?)?,
        flags: AccountFlags(u16_from(r.try_get::<_, i32>(4)? as i64, "account flags")?),
        debits_pending: r.try_get(5)?,
        debits_posted: r.try_get(6)?,
        credits_pending: r.try_get(7)?,
        credits_posted: r.try_get(8)?,
        timestamp: r.try_get(9)?,
    })
}

fn transfer_from_row(r: &Row) -> Result<Transfer, StoreError> {
    let pending_id: Option<&[u8]> = r.try_get(4)?;
    let status: Option<i32> = r.try_get(11)?;
    Ok(Transfer {
        id: TransferId(id_from(r.try_get::<_, &[u8]>(0)?)?),
        debit_account_id: AccountId(id_from(r.try_get::<_, &[u8]>(1)?)?),
        credit_account_id: AccountId(id_from(r.try_get::<_, &[u8]>(2)?)?),
        amount: r.try_get(3)?,
        pending_id: pending_id.map(|b| id_from(b).map(TransferId)).transpose()?,
        currency: currency_from(r.try_get::<_, &str>(5)?)?,
        code: u16_from(r.try_get::<_, i32>(6)? as i64, "transfer code")?,
        reference: id_from(r.try_get::<_, &[u8]>(7)?)?,
        flags: TransferFlags(u16_from(r.try_get::<_, i32>(8)? as i64, "transfer flags")?),
        timeout: u32::try_from(r.try_get::<_, i64>(9)?).map_err(|_| StoreError::Corrupt("timeout".into()))?,
        timestamp: r.try_get(10)?,
        pending_status: status
            .map(|s| PendingStatus::from_i64(s as i64).ok_or_else(|| StoreError::Corrupt(format!("pending status {s}"))))
            .transpose()?,
    })
}

/// Column arrays for one bulk insert of transfers.
#[derive(Default)]
struct TransferColumns {
    id: Vec<Vec<u8>>,
    dr: Vec<Vec<u8>>,
    cr: Vec<Vec<u8>>,
    amount: Vec<i64>,
    pending_id: Vec<Option<Vec<u8>>>,
    currency: Vec<&'static str>,
    code: Vec<i32>,
    reference: Vec<Vec<u8>>,
    flags: Vec<i32>,
    timeout: Vec<i64>,
    ts: Vec<i64>,
    status: Vec<Option<i32>>,
    expires_at: Vec<Option<i64>>,
}

impl TransferColumns {
    fn push(&mut self, t: &Transfer) {
        self.id.push(id_bytes(t.id.0).to_vec());
        self.dr.push(id_bytes(t.debit_account_id.0).to_vec());
        self.cr.push(id_bytes(t.credit_account_id.0).to_vec());
        self.amount.push(t.amount);
        self.pending_id.push(t.pending_id.map(|p| id_bytes(p.0).to_vec()));
        self.currency.push(t.currency.code());
        self.code.push(t.code as i32);
        self.reference.push(id_bytes(t.reference).to_vec());
        self.flags.push(t.flags.0 as i32);
        self.timeout.push(t.timeout as i64);
        self.ts.push(t.timestamp);
        self.status.push(t.pending_status.map(|s| s.as_i64() as i32));
        self.expires_at.push(t.expires_at());
    }

    fn execute(&self, client: &mut Client, stmt: &Statement) -> Result<(), StoreError> {
        if self.id.is_empty() {
            return Ok(());
        }
        client.execute(
            stmt,
            &[
                &self.id, &self.dr, &self.cr, &self.amount, &self.pending_id, &self.currency, &self.code, &self.reference, &self.flags,
                &self.timeout, &self.ts, &self.status, &self.expires_at,
            ],
        )?;
        Ok(())
    }
}

impl Postgres {
    pub fn connect(url: &str) -> Result<Postgres, StoreError> {
        let client = Client::connect(url, NoTls)?;
        Ok(Postgres { client, stmts: None, prepared: Default::default(), at_commit: String::new() })
    }

    pub fn migrate(&mut self) -> Result<(), StoreError> {
        let c = &mut self.client;
        c.batch_execute("SELECT pg_advisory_lock(hashtext('saoma-migrate:' || current_schema()))")?;
        let r = (|| {
            c.batch_execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL)")?;
            let current: i64 = c.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[])?.get(0);
            for m in MIGRATIONS.iter().filter(|m| m.version > current) {
                let mut tx = c.transaction()?;
                tx.batch_execute(&m.sql(Dialect::Postgres))?;
                tx.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", &[&m.version, &m.name])?;
                tx.commit()?;
            }
            Ok::<_, StoreError>(())
        })();
        c.batch_execute("SELECT pg_advisory_unlock(hashtext('saoma-migrate:' || current_schema()))")?;
        r
    }

    fn stmts(&mut self) -> Result<&Stmts, StoreError> {
        if self.stmts.is_none() {
            let c = &mut self.client;
            self.stmts = Some(Stmts {
                accounts: c.prepare(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ANY($1)"))?,
                transfers: c.prepare(&format!("SELECT {TRANSFER_COLUMNS} FROM transfers WHERE id = ANY($1)"))?,
                due: c.prepare(&format!(
                    "SELECT {TRANSFER_COLUMNS} FROM transfers WHERE pending_status = 1 AND expires_at IS NOT NULL AND expires_at <= $1 ORDER BY expires_at LIMIT $2"
                ))?,
                insert_accounts: c.prepare(&format!(
                    "INSERT INTO accounts ({ACCOUNT_COLUMNS}) SELECT * FROM unnest($1::bytea[], $2::text[], $3::int4[], $4::bytea[], $5::int4[], \
                     $6::int8[], $7::int8[], $8::int8[], $9::int8[], $10::int8[])"
                ))?,
                update_balances: c.prepare(
                    "UPDATE accounts a SET flags = u.flags, debits_pending = u.dp, debits_posted = u.dpo, credits_pending = u.cp, credits_posted = u.cpo \
                     FROM unnest($1::bytea[], $2::int4[], $3::int8[], $4::int8[], $5::int8[], $6::int8[]) AS u(id, flags, dp, dpo, cp, cpo) WHERE a.id = u.id",
                )?,
                insert_transfers: c.prepare(&unnest_insert("transfers"))?,
                update_pending: c.prepare(
                    "UPDATE transfers t SET pending_status = u.status FROM unnest($1::bytea[], $2::int4[]) AS u(id, status) WHERE t.id = u.id",
                )?,
            });
        }
        Ok(self.stmts.as_ref().expect("just prepared"))
    }
}

impl Postgres {
    fn prepared(&mut self, sql: &str) -> Result<(Statement, Arc<[String]>), StoreError> {
        if let Some(s) = self.prepared.get(sql) {
            return Ok(s.clone());
        }
        let stmt = self.client.prepare(sql)?;
        let columns: Arc<[String]> = stmt.columns().iter().map(|c| c.name().to_string()).collect();
        self.prepared.insert(sql.to_string(), (stmt.clone(), columns.clone()));
        Ok((stmt, columns))
    }
}

impl Backend for Postgres {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.client.batch_execute(sql)?)
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        let (stmt, _) = self.prepared(sql)?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        Ok(self.client.execute(&stmt, &refs)?)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<JobRow>, StoreError> {
        let (stmt, columns) = self.prepared(sql)?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let mut out = Vec::new();
        for r in self.client.query(&stmt, &refs)? {
            out.push(JobRow::new(columns.clone(), (0..r.len()).map(|i| value_at(&r, i)).collect::<Result<_, _>>()?));
        }
        Ok(out)
    }

    fn begin_write(&mut self, savepoint: bool) -> Result<(Meta, Option<u128>), StoreError> {
        // One round trip (a simple query of several statements) where three or four would be: the
        // transaction, the writer lock, the first job's savepoint, and what the last writer left.
        let sql = format!(
            "BEGIN; SELECT pg_advisory_xact_lock(hashtext('saoma-ledger:' || current_schema())); {}\
             SELECT last_ts, commit_seq, (SELECT id FROM transfers ORDER BY id DESC LIMIT 1) FROM ledger_meta WHERE id = 1",
            if savepoint { "SAVEPOINT job; " } else { "" }
        );
        let messages = self.client.simple_query(&sql)?;
        let row = messages
            .iter()
            .rev()
            .find_map(|m| match m {
                SimpleQueryMessage::Row(r) => Some(r),
                _ => None,
            })
            .ok_or_else(|| StoreError::Corrupt("ledger_meta has no row".into()))?;
        let int = |i: usize| -> Result<i64, StoreError> {
            row.get(i).and_then(|t| t.parse().ok()).ok_or_else(|| StoreError::Corrupt("ledger_meta: not a number".into()))
        };
        let meta = Meta { last_ts: int(0)?, commit_seq: int(1)? };
        // bytea in text form is `\x` and hex digits (bytea_output = hex, the default since 9.0).
        let max_id = row
            .get(2)
            .map(|text| {
                text.strip_prefix("\\x")
                    .filter(|h| h.len() == 32)
                    .and_then(|h| u128::from_str_radix(h, 16).ok())
                    .ok_or_else(|| StoreError::Corrupt(format!("transfer id in text form: {text}")))
            })
            .transpose()?;
        Ok((meta, max_id))
    }

    fn load_accounts(&mut self, ids: &[AccountId], out: &mut Vec<Account>) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let stmt = self.stmts()?.accounts.clone();
        let keys: Vec<Vec<u8>> = ids.iter().map(|i| id_bytes(i.0).to_vec()).collect();
        for r in self.client.query(&stmt, &[&keys])? {
            out.push(account_from_row(&r)?);
        }
        Ok(())
    }

    fn load_transfers(&mut self, ids: &[TransferId], out: &mut Vec<Transfer>) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let stmt = self.stmts()?.transfers.clone();
        let keys: Vec<Vec<u8>> = ids.iter().map(|i| id_bytes(i.0).to_vec()).collect();
        for r in self.client.query(&stmt, &[&keys])? {
            out.push(transfer_from_row(&r)?);
        }
        Ok(())
    }

    fn load_due(&mut self, now: i64, limit: usize, out: &mut Vec<Transfer>) -> Result<(), StoreError> {
        let stmt = self.stmts()?.due.clone();
        for r in self.client.query(&stmt, &[&now, &(limit as i64)])? {
            out.push(transfer_from_row(&r)?);
        }
        Ok(())
    }

    fn earliest_due(&mut self) -> Result<Option<i64>, StoreError> {
        let row = self.client.query_one("SELECT MIN(expires_at) FROM transfers WHERE pending_status = 1 AND expires_at IS NOT NULL", &[])?;
        Ok(row.try_get(0)?)
    }

    fn write(&mut self, ledger: &Ledger, changes: &Changes, meta: Meta) -> Result<(), StoreError> {
        let (ins_t, upd_p) = {
            let s = self.stmts()?;
            (s.insert_transfers.clone(), s.update_pending.clone())
        };
        let mut cols = TransferColumns::default();
        for id in &changes.new_transfers {
            cols.push(ledger.transfer(*id).ok_or_else(|| StoreError::Corrupt("new transfer missing".into()))?);
        }
        cols.execute(&mut self.client, &ins_t)?;
        let new_transfers: HashSet<TransferId> = if changes.pending.is_empty() { HashSet::new() } else { changes.new_transfers.iter().copied().collect() };
        let mut pid = Vec::new();
        let mut pstatus = Vec::new();
        for id in changes.pending.iter().filter(|id| !new_transfers.contains(id)) {
            let t = ledger.transfer(*id).ok_or_else(|| StoreError::Corrupt("changed transfer missing".into()))?;
            pid.push(id_bytes(id.0).to_vec());
            pstatus.push(t.pending_status.map(|s| s.as_i64() as i32));
        }
        if !pid.is_empty() {
            self.client.execute(&upd_p, &[&pid, &pstatus])?;
        }
        // Sent with COMMIT (see `commit`).
        self.at_commit.push_str(&format!("UPDATE ledger_meta SET last_ts = {}, commit_seq = {} WHERE id = 1; ", meta.last_ts, meta.commit_seq));
        Ok(())
    }

    fn append_journal(&mut self, seq: i64, data: &[u8]) -> Result<(), StoreError> {
        // Sent with COMMIT (see `commit`); a bytea literal in hex, which no data can break out of.
        use std::fmt::Write;
        let sql = &mut self.at_commit;
        let _ = write!(sql, "INSERT INTO account_journal (seq, data) VALUES ({seq}, '\\x");
        for b in data {
            let _ = write!(sql, "{b:02x}");
        }
        sql.push_str("'::bytea); ");
        Ok(())
    }

    fn load_journal(&mut self, out: &mut Vec<Vec<u8>>) -> Result<(), StoreError> {
        for r in self.client.query("SELECT data FROM account_journal ORDER BY seq", &[])? {
            out.push(r.try_get(0)?);
        }
        Ok(())
    }

    fn insert_accounts(&mut self, accs: &[&Account]) -> Result<(), StoreError> {
        if accs.is_empty() {
            return Ok(());
        }
        let stmt = self.stmts()?.insert_accounts.clone();
        let id: Vec<Vec<u8>> = accs.iter().map(|a| id_bytes(a.id.0).to_vec()).collect();
        let cur: Vec<&str> = accs.iter().map(|a| a.currency.code()).collect();
        let code: Vec<i32> = accs.iter().map(|a| a.code as i32).collect();
        let owner: Vec<Vec<u8>> = accs.iter().map(|a| id_bytes(a.owner).to_vec()).collect();
        let flags: Vec<i32> = accs.iter().map(|a| a.flags.0 as i32).collect();
        let dp: Vec<i64> = accs.iter().map(|a| a.debits_pending).collect();
        let dpo: Vec<i64> = accs.iter().map(|a| a.debits_posted).collect();
        let cp: Vec<i64> = accs.iter().map(|a| a.credits_pending).collect();
        let cpo: Vec<i64> = accs.iter().map(|a| a.credits_posted).collect();
        let ts: Vec<i64> = accs.iter().map(|a| a.timestamp).collect();
        self.client.execute(&stmt, &[&id, &cur, &code, &owner, &flags, &dp, &dpo, &cp, &cpo, &ts])?;
        Ok(())
    }

    fn checkpoint(&mut self, balances: &[(AccountId, Balances)]) -> Result<(), StoreError> {
        if !balances.is_empty() {
            let stmt = self.stmts()?.update_balances.clone();
            let id: Vec<Vec<u8>> = balances.iter().map(|(id, _)| id_bytes(id.0).to_vec()).collect();
            let flags: Vec<i32> = balances.iter().map(|(_, b)| b.flags.0 as i32).collect();
            let dp: Vec<i64> = balances.iter().map(|(_, b)| b.debits_pending).collect();
            let dpo: Vec<i64> = balances.iter().map(|(_, b)| b.debits_posted).collect();
            let cp: Vec<i64> = balances.iter().map(|(_, b)| b.credits_pending).collect();
            let cpo: Vec<i64> = balances.iter().map(|(_, b)| b.credits_posted).collect();
            self.client.execute(&stmt, &[&id, &flags, &dp, &dpo, &cp, &cpo])?;
        }
        self.client.batch_execute("DELETE FROM account_journal")?;
        Ok(())
    }

    /// The commit's own statements (the journal row, `ledger_meta`) go with it in one round trip: a
    /// simple query of several statements inside the open transaction; if one fails, the rest, COMMIT
    /// included, are not run and the writer rolls back.
    fn commit(&mut self) -> Result<(), StoreError> {
        let mut sql = std::mem::take(&mut self.at_commit);
        sql.push_str("COMMIT");
        Ok(self.client.batch_execute(&sql)?)
    }

    fn rollback(&mut self) {
        self.at_commit.clear();
        let _ = self.client.batch_execute("ROLLBACK");
    }

    fn scan(
        &mut self,
        on_transfer: &mut dyn FnMut(Transfer),
        on_account: &mut dyn FnMut(Account),
        on_journal: &mut dyn FnMut(&[u8]) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut tx = self.client.build_transaction().isolation_level(postgres::IsolationLevel::RepeatableRead).read_only(true).start()?;
        {
            let mut it = tx.query_raw(&format!("SELECT {TRANSFER_COLUMNS} FROM transfers"), std::iter::empty::<i32>())?;
            while let Some(r) = it.next()? {
                on_transfer(transfer_from_row(&r)?);
            }
        }
        {
            let mut it = tx.query_raw(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts"), std::iter::empty::<i32>())?;
            while let Some(r) = it.next()? {
                on_account(account_from_row(&r)?);
            }
        }
        for r in tx.query("SELECT data FROM account_journal ORDER BY seq", &[])? {
            on_journal(r.try_get::<_, &[u8]>(0)?)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn account(&mut self, id: AccountId) -> Result<Option<Account>, StoreError> {
        let mut out = Vec::new();
        self.load_accounts(&[id], &mut out)?;
        Ok(out.pop())
    }

    fn transfer(&mut self, id: TransferId) -> Result<Option<Transfer>, StoreError> {
        let mut out = Vec::new();
        self.load_transfers(&[id], &mut out)?;
        Ok(out.pop())
    }

    fn raw_insert(&mut self, rows: &[Transfer]) -> Result<(), StoreError> {
        self.client.batch_execute(&raw_table_sql(Dialect::Postgres))?;
        let mut cols = TransferColumns::default();
        for t in rows {
            cols.push(t);
        }
        let stmt = self.client.prepare(&unnest_insert("bench_raw"))?;
        self.client.batch_execute("BEGIN")?;
        if let Err(e) = cols.execute(&mut self.client, &stmt) {
            self.rollback();
            return Err(e);
        }
        self.commit()
    }

    fn drop_raw(&mut self) -> Result<(), StoreError> {
        Ok(self.client.batch_execute("DROP TABLE IF EXISTS bench_raw")?)
    }
}
