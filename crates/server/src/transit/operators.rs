//! Operators: a merchant that runs the ride code for a scope, its fares (as JSON on the admin API), how
//! many codes a credential allows, and the deposit riders' cards hold.

use super::*;

#[derive(Clone, Debug)]
pub struct Operator {
    pub scope: u16,
    pub mchid: String,
    pub fares: FareTable,
    pub max_uses: u8,
    pub stale_fare_limit: u16,
    pub deposit: i64,
    pub deposit_account: AccountId,
}

impl Operator {
    /// The most the rides of one day can cost: what the agreement's daily limit allows.
    pub fn daily_cap(&self) -> i64 {
        self.fares.max_fare() * self.max_uses as i64
    }
}

/// Fares as JSON: `{"flat": 200}` or `{"stops": [[stop, metres], …], "bands": [[up_to_metres, fare], …],
/// "max_fare": 500}`.
pub fn fares_from_json(v: &serde_json::Value) -> Option<FareTable> {
    if let Some(f) = v.get("flat") {
        let f = f.as_i64().filter(|f| (1..=u16::MAX as i64).contains(f))?;
        return Some(FareTable::Flat(f));
    }
    let pairs = |k: &str| -> Option<Vec<(i64, i64)>> { v.get(k)?.as_array()?.iter().map(|p| Some((p.get(0)?.as_i64()?, p.get(1)?.as_i64()?))).collect() };
    let stops = pairs("stops")?.into_iter().map(|(s, m)| Some((u16::try_from(s).ok()?, u32::try_from(m).ok()?))).collect::<Option<Vec<_>>>()?;
    let bands = pairs("bands")?.into_iter().map(|(d, f)| Some((u32::try_from(d).ok()?, f))).collect::<Option<Vec<_>>>()?;
    let max_fare = v.get("max_fare")?.as_i64().filter(|f| (1..=u16::MAX as i64).contains(f))?;
    if stops.is_empty() || bands.is_empty() || bands.iter().any(|(_, f)| *f <= 0 || *f > max_fare) || !bands.windows(2).all(|w| w[0].0 < w[1].0) {
        return None;
    }
    Some(FareTable::Distance { stops, bands, max_fare })
}

pub fn fares_to_json(f: &FareTable) -> serde_json::Value {
    match f {
        FareTable::Flat(x) => serde_json::json!({ "flat": x }),
        FareTable::Distance { stops, bands, max_fare } => serde_json::json!({ "stops": stops, "bands": bands, "max_fare": max_fare }),
    }
}

const OPERATOR_COLUMNS: &str = "scope, mchid, fare_table, max_uses, stale_fare_limit, deposit, deposit_account";

fn operator_from_row(r: &Row) -> Result<Operator, StoreError> {
    let bad = |column: &str| StoreError::Corrupt(format!("transit operator row: bad {column}"));
    let fares = serde_json::from_str(r.text("fare_table")?).ok().and_then(|v: serde_json::Value| fares_from_json(&v)).ok_or_else(|| bad("fare_table"))?;
    Ok(Operator {
        scope: u16::try_from(r.int("scope")?).map_err(|_| bad("scope"))?,
        mchid: r.text("mchid")?.to_string(),
        fares,
        max_uses: u8::try_from(r.int("max_uses")?).map_err(|_| bad("max_uses"))?,
        stale_fare_limit: u16::try_from(r.int("stale_fare_limit")?).map_err(|_| bad("stale_fare_limit"))?,
        deposit: r.int("deposit")?,
        deposit_account: AccountId(r.id("deposit_account")?),
    })
}

pub fn operator_in_job(tx: &mut JobTx<'_>, scope: u16) -> Result<Option<Operator>, StoreError> {
    tx.query_one(&format!("SELECT {OPERATOR_COLUMNS} FROM transit_operators WHERE scope = $1"), &[(scope as i64).into()])?.map(|r| operator_from_row(&r)).transpose()
}

pub fn operator(app: &App, scope: u16) -> Result<Option<Operator>, StoreError> {
    app.store.query_one(&format!("SELECT {OPERATOR_COLUMNS} FROM transit_operators WHERE scope = $1"), &[(scope as i64).into()])?
        .map(|r| operator_from_row(&r))
        .transpose()
}

/// Makes a merchant a transit operator with its fares; the deposit covers the codes of two
/// overlapping daily credentials at the maximum fare (the most a rider can ride before the platform
/// can stop issuing).
pub async fn create_operator(app: &App, mchid: String, scope: u16, fares: FareTable, max_uses: u8, stale_fare_limit: u16) -> Result<Operator, TransitFail> {
    if max_uses == 0 {
        return Err(TransitFail::BadConfig("max_uses must be 1–255"));
    }
    let now = app.business_now_secs();
    let account = AccountId(app.ids.next());
    let op = Operator { scope, mchid, deposit: 2 * max_uses as i64 * fares.max_fare(), fares, max_uses, stale_fare_limit, deposit_account: account };
    app.store
        .transact(move |tx| {
            if !crate::merchants::exists_in_job(tx, &op.mchid)? {
                return Ok(Err(TransitFail::NoMerchant));
            }
            if tx.query_one("SELECT scope FROM transit_operators WHERE scope = $1 OR mchid = $2", &[(scope as i64).into(), op.mchid.as_str().into()])?.is_some() {
                return Ok(Err(TransitFail::ScopeTaken));
            }
            let a = NewAccount { id: account, currency: Currency::CNY, code: kind::TRANSIT_DEPOSITS, owner: 0, flags: AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS };
            if let Some(Err(e)) = tx.create_accounts(&[a])?.pop() {
                return Err(StoreError::Corrupt(format!("deposit account: {e}")));
            }
            tx.execute(
                "INSERT INTO transit_operators (scope, mchid, fare_table, max_uses, stale_fare_limit, deposit, deposit_account, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    (scope as i64).into(),
                    op.mchid.as_str().into(),
                    fares_to_json(&op.fares).to_string().into(),
                    (op.max_uses as i64).into(),
                    (op.stale_fare_limit as i64).into(),
                    op.deposit.into(),
                    account.0.into(),
                    now.into(),
                ],
            )?;
            Ok(Ok(op))
        })
        .await?
}
