//! The platform's own ledger accounts and the codes that name kinds of accounts and of transfers.

use saoma_ledger::{AccountFlags, AccountId, Currency, NewAccount};
use saoma_store::{Row, Store, StoreError};

/// Account kinds (`Account::code`).
pub mod kind {
    pub const WALLET: u16 = 1;
    pub const MERCHANT_UNSETTLED: u16 = 2;
    pub const PLATFORM_FEES: u16 = 3;
    pub const BANK_CLEARING: u16 = 4;
    pub const TRANSIT_DEPOSITS: u16 = 5;
}

/// Transfer kinds (`Transfer::code`).
pub mod movement {
    pub const PAYMENT: u16 = 1;
    pub const FEE: u16 = 2;
    pub const TOP_UP: u16 = 3;
    pub const WITHDRAWAL: u16 = 4;
    /// Merchant → the payer's wallet.
    pub const REFUND: u16 = 5;
    /// The platform gives the fee's share of a refund back to the merchant.
    pub const FEE_REFUND: u16 = 6;
    /// A rider's transit deposit: wallet → the operator's held-deposit account, and back on card refund.
    pub const DEPOSIT: u16 = 7;
}

/// Well-known ids (above every time-ordered id the platform generates).
pub const FEES_CNY: AccountId = AccountId(0x5341_4F4D_4100_0000_0000_0000_0000_0001);
/// The simulated bank's clearing account: money that came in from (or went out to) bank cards.
pub const BANK_CLEARING_CNY: AccountId = AccountId(0x5341_4F4D_4100_0000_0000_0000_0000_0002);

/// Creates the platform's accounts if they do not exist (idempotent: a replay is fine).
pub async fn ensure(store: &Store) -> Result<(), StoreError> {
    let platform = |id, code| NewAccount { id, currency: Currency::CNY, code, owner: 0, flags: AccountFlags::empty() };
    let r = store.create_accounts(vec![platform(FEES_CNY, kind::PLATFORM_FEES), platform(BANK_CLEARING_CNY, kind::BANK_CLEARING)]).await?;
    if let Some(Err(e)) = r.into_iter().find(|r| r.is_err()) {
        return Err(StoreError::Corrupt(format!("platform accounts: {e}")));
    }
    Ok(())
}

/// A ledger transfer a business row names (an order's payment, a refund's fee share), beside what the
/// ledger has under that id: `ts` and `amount` are `None` when the ledger has no such transfer. Read
/// from a statement that joins the ledger's `transfers` to the row; a bill checks the one against the
/// other (it never shows money the ledger does not have).
pub struct Booked {
    pub id: u128,
    pub ts: Option<i64>,
    pub amount: Option<i64>,
}

impl Booked {
    /// The transfer in columns `{name}_transfer` (its id), `{name}_ts`, `{name}_amount` (the joined
    /// transfer's); `None` where the row names no transfer (a fee of 0).
    pub fn read(r: &Row, name: &str) -> Result<Option<Booked>, StoreError> {
        let Some(id) = r.opt_id(&format!("{name}_transfer"))? else { return Ok(None) };
        Ok(Some(Booked { id, ts: r.opt_int(&format!("{name}_ts"))?, amount: r.opt_int(&format!("{name}_amount"))? }))
    }
}
