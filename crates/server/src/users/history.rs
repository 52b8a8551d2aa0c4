//! A wallet's history: every movement of the user's money, newest first, each read from the capability
//! that keeps it (payments — rides and other withholding charges among them — refunds, bank top-ups and
//! withdrawals, transit deposits held and returned), merged here once for the wallet API's JSON and the
//! History page; and the rides whose charge failed (owed: no money moved, amount 0, the fare said), until
//! repaid — the repayment is then a payment of its own.

use crate::App;
use saoma_core::order::{TradeState, TradeType};
use saoma_store::StoreError;
use serde_json::{json, Value};

/// How many entries the history shows, and reads of each kind.
pub const LIMIT: i64 = 50;

/// One movement of the wallet, with its signed amount in fen (money out is negative) and when it
/// happened (business seconds).
#[derive(Clone, Debug)]
pub struct Entry {
    pub at: i64,
    pub amount: i64,
    pub kind: Kind,
}

#[derive(Clone, Debug)]
pub enum Kind {
    Payment { merchant: String, mchid: String, out_trade_no: String, transaction_id: String, description: String, trade_type: TradeType, state: TradeState },
    Refund { merchant: String, mchid: String, out_trade_no: String, refund_id: String },
    /// A top-up (`withdrawal: false`) or a withdrawal; `state` is the bank operation's (pending, succeeded, failed).
    Bank { withdrawal: bool, state: String, request_id: String },
    /// A transit card's deposit, held when the card was opened (`returned: false`) or returned when it closed.
    Deposit { returned: bool, merchant: String, card_no: String, scope: u16 },
    /// A ride whose charge failed: `fare` is owed (the entry's amount is 0: the wallet did not move).
    RideOwed { merchant: String, card_no: String, scope: u16, fare: i64 },
}

/// The user's history, newest first, at most [`LIMIT`] entries.
pub fn of(app: &App, user: u128) -> Result<Vec<Entry>, StoreError> {
    let mut out = Vec::new();
    for (o, merchant) in crate::payments::paid_by(app, user, LIMIT)? {
        let kind = Kind::Payment {
            merchant,
            mchid: o.mchid,
            out_trade_no: o.out_trade_no,
            transaction_id: o.transaction_id,
            description: o.description,
            trade_type: o.trade_type,
            state: o.trade_state,
        };
        out.push(Entry { at: o.success_at.unwrap_or(0), amount: -o.total, kind });
    }
    for (r, merchant) in crate::refunds::to_payer(app, user, LIMIT)? {
        let kind = Kind::Refund { merchant, mchid: r.mchid, out_trade_no: r.out_trade_no, refund_id: r.refund_id };
        out.push(Entry { at: r.success_at.unwrap_or(0), amount: r.amount, kind });
    }
    for (at, op) in crate::bank::operations_of(app, user, LIMIT)? {
        let withdrawal = op.kind == "withdrawal";
        out.push(Entry { at, amount: if withdrawal { -op.amount } else { op.amount }, kind: Kind::Bank { withdrawal, state: op.state, request_id: op.request_id } });
    }
    for d in crate::transit::deposits_of(app, user, LIMIT)? {
        let deposit = |returned| Kind::Deposit { returned, merchant: d.merchant.clone(), card_no: d.card_no.clone(), scope: d.scope };
        out.push(Entry { at: d.held_at, amount: -d.amount, kind: deposit(false) });
        if let Some(at) = d.returned_at {
            out.push(Entry { at, amount: d.amount, kind: deposit(true) });
        }
    }
    for r in crate::transit::device::owed_by(app, user, LIMIT)? {
        let kind = Kind::RideOwed { merchant: r.merchant, card_no: r.card_no, scope: r.scope, fare: r.fare };
        out.push(Entry { at: r.at, amount: 0, kind });
    }
    out.sort_by_key(|e| std::cmp::Reverse(e.at));
    out.truncate(LIMIT as usize);
    Ok(out)
}

impl Entry {
    /// The entry as the wallet API's `transactions` lists it.
    pub fn json(&self) -> Value {
        let time = saoma_core::time::format_rfc3339_cst(self.at);
        match &self.kind {
            Kind::Payment { merchant, mchid, out_trade_no, transaction_id, description, state, .. } => json!({
                "kind": "payment", "time": time, "amount": self.amount,
                "merchant": merchant, "mchid": mchid, "out_trade_no": out_trade_no, "transaction_id": transaction_id,
                "description": description, "state": state.as_str(),
            }),
            Kind::Refund { merchant, mchid, out_trade_no, refund_id } => json!({
                "kind": "refund", "time": time, "amount": self.amount,
                "merchant": merchant, "mchid": mchid, "out_trade_no": out_trade_no, "refund_id": refund_id,
            }),
            Kind::Bank { withdrawal, state, request_id } => {
                json!({ "kind": if *withdrawal { "withdrawal" } else { "top_up" }, "time": time, "amount": self.amount, "state": state, "request_id": request_id })
            }
            Kind::Deposit { returned, merchant, card_no, scope } => json!({
                "kind": if *returned { "transit_deposit_return" } else { "transit_deposit_hold" }, "time": time, "amount": self.amount,
                "merchant": merchant, "card_no": card_no, "scope": scope,
            }),
            Kind::RideOwed { merchant, card_no, scope, fare } => json!({
                "kind": "transit_ride_owed", "time": time, "amount": self.amount, "fare": fare,
                "merchant": merchant, "card_no": card_no, "scope": scope,
            }),
        }
    }
}
