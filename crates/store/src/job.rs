//! Jobs: a business command and its ledger transfers in one database transaction.
//!
//! A job is a closure the writer runs inside its group transaction, within a savepoint: it reads and
//! writes the application's tables with portable SQL (`$1`, `$2`, … placeholders on both backends) and
//! moves money with [`JobTx::create_transfers`]. It returns `Ok(Ok(value))` to keep its changes,
//! `Ok(Err(refusal))` to undo them all (SQL and ledger alike) while the rest of the group goes on, or
//! `Err(StoreError)` when the database itself failed (the whole group then fails, and no caller is told
//! anything was done). Paying an order is one job: the order's state change and the wallet → merchant
//! chain commit together or not at all.
//!
//! Jobs read the ledger through [`JobTx::account`] and [`JobTx::transfer`] (the writer's working set, which
//! includes this group's uncommitted changes), never with SQL on the ledger's tables.

use crate::schema::Dialect;
use crate::{Backend, StoreError};
use saoma_ledger::{Account, AccountError, AccountId, Applied, NewAccount, NewTransfer, Transfer, TransferError, TransferId};
use std::any::Any;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

/// A value bound to or read from SQL. Money is `Int` (minor units); there are no floats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

impl Value {
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(v) => Some(*v),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_blob(&self) -> Option<&[u8]> {
        match self {
            Value::Blob(b) => Some(b),
            _ => None,
        }
    }
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Value {
        Value::Blob(v)
    }
}
impl From<u128> for Value {
    /// Ids are stored as 16 big-endian bytes, like the ledger's.
    fn from(v: u128) -> Value {
        Value::Blob(v.to_be_bytes().to_vec())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

/// One row of a query's result, read by column name: `row.int("amount")?`, `row.opt_text("state")?`.
///
/// A column read by name must be a plain column reference or have an `AS name`: the two databases name
/// an expression differently (`COUNT(*)` is `COUNT(*)` on SQLite, `count` on PostgreSQL). Names match
/// ASCII case-insensitively, since PostgreSQL folds unquoted names to lower case; where two columns
/// share a name (a join), the first wins — [`Row::slice`] reads the other table's part by itself.
/// Every getter fails with [`StoreError::Corrupt`] naming the column when it is missing, or holds
/// another type, or NULL where a value is required.
///
/// The names are shared by every row of one result (gathered once per query, not per row).
#[derive(Clone, Debug)]
pub struct Row {
    /// The result's column names; this row's are `columns[offset..offset + values.len()]` (a slice
    /// keeps the result's names rather than copying them).
    columns: Arc<[String]>,
    offset: usize,
    values: Vec<Value>,
}

impl Row {
    /// A row of `values` named by `columns` (one name per value).
    pub fn new(columns: Arc<[String]>, values: Vec<Value>) -> Row {
        assert_eq!(columns.len(), values.len(), "one column name per value");
        Row { columns, offset: 0, values }
    }

    pub fn columns(&self) -> &[String] {
        &self.columns[self.offset..self.offset + self.values.len()]
    }

    pub fn values(&self) -> &[Value] {
        &self.values
    }

    pub fn into_values(self) -> Vec<Value> {
        self.values
    }

    /// The columns in `range`, with their names: for a join that reads two tables' columns in one row,
    /// each table's part decoded on its own. Panics where `range` is out of bounds, as slicing does.
    pub fn slice(&self, range: impl RangeBounds<usize>) -> Row {
        let start = match range.start_bound() {
            Bound::Included(&s) => s,
            Bound::Excluded(&s) => s + 1,
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&e) => e + 1,
            Bound::Excluded(&e) => e,
            Bound::Unbounded => self.values.len(),
        };
        Row { columns: self.columns.clone(), offset: self.offset + start, values: self.values[start..end].to_vec() }
    }

    pub fn value(&self, name: &str) -> Result<&Value, StoreError> {
        self.columns()
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
            .map(|i| &self.values[i])
            .ok_or_else(|| StoreError::Corrupt(format!("no column {name:?} in the row (columns: {})", self.columns().join(", "))))
    }

    pub fn int(&self, name: &str) -> Result<i64, StoreError> {
        self.opt_int(name)?.ok_or_else(|| null(name))
    }

    pub fn opt_int(&self, name: &str) -> Result<Option<i64>, StoreError> {
        match self.value(name)? {
            Value::Null => Ok(None),
            Value::Int(v) => Ok(Some(*v)),
            other => Err(mistyped(name, "an integer", other)),
        }
    }

    pub fn text(&self, name: &str) -> Result<&str, StoreError> {
        self.opt_text(name)?.ok_or_else(|| null(name))
    }

    pub fn opt_text(&self, name: &str) -> Result<Option<&str>, StoreError> {
        match self.value(name)? {
            Value::Null => Ok(None),
            Value::Text(s) => Ok(Some(s)),
            other => Err(mistyped(name, "text", other)),
        }
    }

    pub fn blob(&self, name: &str) -> Result<&[u8], StoreError> {
        self.opt_blob(name)?.ok_or_else(|| null(name))
    }

    pub fn opt_blob(&self, name: &str) -> Result<Option<&[u8]>, StoreError> {
        match self.value(name)? {
            Value::Null => Ok(None),
            Value::Blob(b) => Ok(Some(b)),
            other => Err(mistyped(name, "bytes", other)),
        }
    }

    /// An id: 16 big-endian bytes (as [`Value::from`] a `u128` stores it).
    pub fn id(&self, name: &str) -> Result<u128, StoreError> {
        self.opt_id(name)?.ok_or_else(|| null(name))
    }

    pub fn opt_id(&self, name: &str) -> Result<Option<u128>, StoreError> {
        self.opt_blob(name)?
            .map(|b| {
                <[u8; 16]>::try_from(b)
                    .map(u128::from_be_bytes)
                    .map_err(|_| StoreError::Corrupt(format!("column {name:?}: an id of {} bytes, not 16", b.len())))
            })
            .transpose()
    }
}

/// Rows are equal when their names and values are (whatever result they were sliced from).
impl PartialEq for Row {
    fn eq(&self, other: &Row) -> bool {
        self.columns() == other.columns() && self.values == other.values
    }
}
impl Eq for Row {}

fn null(name: &str) -> StoreError {
    StoreError::Corrupt(format!("column {name:?} is NULL"))
}

fn mistyped(name: &str, expected: &str, found: &Value) -> StoreError {
    let found = match found {
        Value::Null => "NULL",
        Value::Int(_) => "an integer",
        Value::Text(_) => "text",
        Value::Blob(_) => "bytes",
    };
    StoreError::Corrupt(format!("column {name:?}: expected {expected}, found {found}"))
}

impl From<Row> for Vec<Value> {
    fn from(row: Row) -> Vec<Value> {
        row.values
    }
}

pub(crate) type Outcome = Result<Box<dyn Any + Send>, Box<dyn Any + Send>>;
pub(crate) type JobFn = Box<dyn FnOnce(&mut JobTx<'_>) -> Result<Outcome, StoreError> + Send>;

/// Wraps a typed job for the writer.
pub(crate) fn erase<T, E, F>(f: F) -> JobFn
where
    T: Send + 'static,
    E: Send + 'static,
    F: FnOnce(&mut JobTx<'_>) -> Result<Result<T, E>, StoreError> + Send + 'static,
{
    Box::new(move |tx| {
        Ok(match f(tx)? {
            Ok(v) => Ok(Box::new(v) as Box<dyn Any + Send>),
            Err(e) => Err(Box::new(e) as Box<dyn Any + Send>),
        })
    })
}

/// Undoes [`erase`] on the caller's side.
pub(crate) fn unerase<T: 'static, E: 'static>(o: Outcome) -> Result<Result<T, E>, StoreError> {
    let bad = || StoreError::Corrupt("job reply of another type".into());
    Ok(match o {
        Ok(v) => Ok(*v.downcast::<T>().map_err(|_| bad())?),
        Err(e) => Err(*e.downcast::<E>().map_err(|_| bad())?),
    })
}

/// What a job needs from whoever runs it (the writer): its connection, inside the group's transaction,
/// and its working set of the ledger. Kept to this so that jobs do not know the writer.
pub(crate) trait JobHost {
    fn backend(&mut self) -> &mut dyn Backend;
    fn dialect(&self) -> Dialect;
    fn create_accounts(&mut self, accounts: &[NewAccount], now: i64) -> Result<Vec<Result<Applied, AccountError>>, StoreError>;
    fn create_transfers(&mut self, transfers: &[NewTransfer], now: i64) -> Result<Vec<Result<Applied, TransferError>>, StoreError>;
    /// The account as this group sees it (loaded on first use).
    fn working_account(&mut self, id: AccountId) -> Result<Option<Account>, StoreError>;
    fn working_transfer(&mut self, id: TransferId) -> Result<Option<Transfer>, StoreError>;
}

/// What a job can do inside the writer's transaction.
pub struct JobTx<'a> {
    pub(crate) host: &'a mut dyn JobHost,
    pub(crate) now: i64,
}

impl JobTx<'_> {
    /// The clock's time for this group (nanoseconds).
    pub fn now(&self) -> i64 {
        self.now
    }

    /// Which SQL the database speaks (for the rare statement that differs).
    pub fn dialect(&self) -> Dialect {
        self.host.dialect()
    }

    /// Runs a statement; returns the number of rows changed.
    pub fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        self.host.backend().execute(sql, params)
    }

    /// Rows read by column name (see [`Row`]).
    pub fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        self.host.backend().query(sql, params)
    }

    pub fn query_one(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    pub fn create_accounts(&mut self, accounts: &[NewAccount]) -> Result<Vec<Result<Applied, AccountError>>, StoreError> {
        self.host.create_accounts(accounts, self.now)
    }

    /// Applies transfers (linked chains all-or-nothing) to the working set; they are written with the
    /// group. If the job then refuses, they are undone with the rest of it.
    pub fn create_transfers(&mut self, transfers: &[NewTransfer]) -> Result<Vec<Result<Applied, TransferError>>, StoreError> {
        self.host.create_transfers(transfers, self.now)
    }

    pub fn account(&mut self, id: AccountId) -> Result<Option<Account>, StoreError> {
        self.host.working_account(id)
    }

    pub fn transfer(&mut self, id: TransferId) -> Result<Option<Transfer>, StoreError> {
        self.host.working_transfer(id)
    }
}
