//! saoma's business rules, one module per capability. Pure: no I/O, no clock (time comes in as an
//! argument), no storage. The server's application services call these to decide, then persist what
//! was decided in one job.

pub mod agreement;
pub mod bill;
pub mod fare;
pub mod fees;
pub mod order;
pub mod paycode;
pub mod pin;
pub mod refund;
pub mod time;
pub mod yuan;
