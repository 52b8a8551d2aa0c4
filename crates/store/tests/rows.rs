//! Rows read by column name, the same on both backends: plain columns and `AS` aliases, any case, NULL,
//! a missing or mistyped column (an error naming it), and a join's row sliced into its two tables.

use saoma_store::testing::TestDb;
use saoma_store::*;
use std::sync::Arc;

const PAYER: u128 = 0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10;

fn setup(db: &TestDb) -> Store {
    let store = Store::open(db.database.clone(), Arc::new(SystemClock), StoreOptions::default()).unwrap();
    let r = store
        .transact_blocking(|tx| {
            let blob = if tx.dialect() == saoma_store::schema::Dialect::Sqlite { "BLOB" } else { "BYTEA" };
            tx.execute(&format!("CREATE TABLE row_orders (out_trade_no TEXT PRIMARY KEY, mchid TEXT NOT NULL, amount BIGINT NOT NULL, note TEXT, payer {blob} NOT NULL, refund_of {blob}, created_at BIGINT NOT NULL)"), &[])?;
            tx.execute("CREATE TABLE row_merchants (mchid TEXT PRIMARY KEY, name TEXT NOT NULL, fee_rate BIGINT, created_at BIGINT NOT NULL)", &[])?;
            tx.execute("INSERT INTO row_merchants (mchid, name, fee_rate, created_at) VALUES ($1, $2, $3, $4)", &["M1".into(), "Tea House".into(), Value::Null, 100i64.into()])?;
            tx.execute(
                "INSERT INTO row_orders (out_trade_no, mchid, amount, note, payer, refund_of, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &["A1".into(), "M1".into(), 300i64.into(), Value::Null, PAYER.into(), Value::Null, 200i64.into()],
            )?;
            Ok(Ok::<(), ()>(()))
        })
        .unwrap();
    assert_eq!(r, Ok(()));
    store
}

fn corrupt_naming(r: Result<impl std::fmt::Debug, StoreError>, column: &str) {
    match r {
        Err(StoreError::Corrupt(m)) => assert!(m.contains(column), "{m:?} does not name {column:?}"),
        other => panic!("expected Corrupt naming {column:?}, got {other:?}"),
    }
}

const JOINED: &str = "SELECT o.out_trade_no, o.amount, o.note, o.payer, o.refund_of, o.amount * 2 AS Doubled, o.created_at, \
                      m.mchid, m.name, m.fee_rate, m.created_at \
                      FROM row_orders o JOIN row_merchants m ON m.mchid = o.mchid WHERE o.out_trade_no = $1";

fn check(db: &str, r: &Row) {
    assert_eq!(r.columns(), ["out_trade_no", "amount", "note", "payer", "refund_of", if db == "sqlite" { "Doubled" } else { "doubled" }, "created_at", "mchid", "name", "fee_rate", "created_at"]);
    assert_eq!(r.text("out_trade_no").unwrap(), "A1");
    // Any case: PostgreSQL folds the unquoted alias to lower case, SQLite keeps it as written.
    assert_eq!(r.int("AMOUNT").unwrap(), 300);
    assert_eq!(r.int("doubled").unwrap(), 600);
    assert_eq!(r.int("DOUBLED").unwrap(), 600);
    // NULL: an option where allowed, an error naming the column where a value is required.
    assert_eq!(r.opt_text("note").unwrap(), None);
    corrupt_naming(r.text("note"), "note");
    assert_eq!(r.opt_int("fee_rate").unwrap(), None);
    corrupt_naming(r.int("fee_rate"), "fee_rate");
    assert_eq!(r.id("payer").unwrap(), PAYER);
    assert_eq!(r.opt_id("payer").unwrap(), Some(PAYER));
    assert_eq!(r.blob("payer").unwrap(), &PAYER.to_be_bytes()[..]);
    assert_eq!(r.opt_id("refund_of").unwrap(), None);
    assert_eq!(r.opt_blob("refund_of").unwrap(), None);
    corrupt_naming(r.id("refund_of"), "refund_of");
    // Missing, or of another type.
    corrupt_naming(r.value("no_such_column"), "no_such_column");
    corrupt_naming(r.int("no_such_column"), "no_such_column");
    corrupt_naming(r.text("amount"), "amount");
    corrupt_naming(r.int("name"), "name");
    corrupt_naming(r.id("name"), "name");
    // Two tables' `created_at`: the first wins; each table's part, sliced off, reads its own.
    assert_eq!(r.int("created_at").unwrap(), 200);
    let merchant = r.slice(7..);
    assert_eq!(merchant.columns(), ["mchid", "name", "fee_rate", "created_at"]);
    assert_eq!(merchant.int("created_at").unwrap(), 100);
    assert_eq!(merchant.text("name").unwrap(), "Tea House");
    corrupt_naming(merchant.int("amount"), "amount");
    let order = r.slice(..7);
    assert_eq!(order.columns().len(), 7);
    assert_eq!(order.int("created_at").unwrap(), 200);
    corrupt_naming(order.text("name"), "name");
    // A slice of a slice keeps the names of the values it holds.
    let names = merchant.slice(1..=2);
    assert_eq!(names.columns(), ["name", "fee_rate"]);
    assert_eq!(names.values(), [Value::Text("Tea House".into()), Value::Null]);
    assert_eq!(names.value("name").unwrap(), &Value::Text("Tea House".into()));
    assert_eq!(names, Row::new(Arc::from(["name".to_string(), "fee_rate".to_string()]), vec![Value::Text("Tea House".into()), Value::Null]));
    // Every column of the result, in order.
    assert_eq!(r.values().len(), 11);
    assert_eq!(r.values()[1].as_i64(), Some(300));
    assert_eq!(r.clone().into_values(), Vec::<Value>::from(r.clone()));
}

#[test]
fn rows_are_read_by_column_name() {
    for db in TestDb::all() {
        let store = setup(&db);
        // On the reader connection…
        let rows = store.query(JOINED, &["A1".into()]).unwrap();
        assert_eq!(rows.len(), 1, "{}", db.name());
        check(db.name(), &rows[0]);
        // …and inside a job, on the writer's.
        let name = db.name();
        let r = store.transact_blocking(move |tx| {
            let r = tx.query_one(JOINED, &["A1".into()])?.expect("the order");
            check(name, &r);
            Ok(Ok::<i64, ()>(r.int("amount")?))
        });
        assert_eq!(r, Ok(Ok(300)));
        // An empty result has no rows to name; an expression read by its alias.
        assert!(store.query(JOINED, &["none".into()]).unwrap().is_empty());
        let count = store.query_one("SELECT COUNT(*) AS n FROM row_orders", &[]).unwrap().unwrap();
        assert_eq!(count.int("n").unwrap(), 1, "{}", db.name());
    }
}
