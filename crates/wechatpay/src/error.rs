//! v3 errors: a code, the HTTP status WeChat Pay answers it with, and the body
//! `{"code": "...", "message": "..."}` (with an optional `detail`, as for `SIGN_ERROR`).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    ParamError,
    InvalidRequest,
    SignError,
    NoAuth,
    OrderNotExist,
    ResourceNotExists,
    OrderPaid,
    OrderClosed,
    OutTradeNoUsed,
    NotEnough,
    FrequencyLimited,
    RuleLimit,
    TradeError,
    AppidMchidNotMatch,
    MchNotExists,
    UserPaying,
    BankError,
    /// No bill for that day (nothing happened), or for that account.
    NoStatementExist,
    /// The day's bill is still being made.
    StatementCreating,
    SystemError,
}

impl ErrorCode {
    pub fn as_str(&self) -> &'static str {
        use ErrorCode::*;
        match self {
            ParamError => "PARAM_ERROR",
            InvalidRequest => "INVALID_REQUEST",
            SignError => "SIGN_ERROR",
            NoAuth => "NO_AUTH",
            OrderNotExist => "ORDER_NOT_EXIST",
            ResourceNotExists => "RESOURCE_NOT_EXISTS",
            OrderPaid => "ORDERPAID",
            OrderClosed => "ORDER_CLOSED",
            OutTradeNoUsed => "OUT_TRADE_NO_USED",
            NotEnough => "NOT_ENOUGH",
            FrequencyLimited => "FREQUENCY_LIMITED",
            RuleLimit => "RULE_LIMIT",
            TradeError => "TRADE_ERROR",
            AppidMchidNotMatch => "APPID_MCHID_NOT_MATCH",
            MchNotExists => "MCH_NOT_EXISTS",
            UserPaying => "USERPAYING",
            BankError => "BANK_ERROR",
            NoStatementExist => "NO_STATEMENT_EXIST",
            StatementCreating => "STATEMENT_CREATING",
            SystemError => "SYSTEM_ERROR",
        }
    }

    /// The HTTP status of the code, as in the per-API error tables of the v3 documentation: 4xx for
    /// what the caller can fix, 5xx for what a retry with the same request may fix.
    pub fn status(&self) -> u16 {
        use ErrorCode::*;
        match self {
            ParamError | InvalidRequest | OrderPaid | OrderClosed | AppidMchidNotMatch | MchNotExists | NoStatementExist | StatementCreating => 400,
            SignError => 401,
            NoAuth | OutTradeNoUsed | NotEnough | RuleLimit | TradeError => 403,
            OrderNotExist | ResourceNotExists => 404,
            FrequencyLimited => 429,
            UserPaying => 202,
            BankError | SystemError => 500,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<serde_json::Value>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ErrorBody {
        ErrorBody { code: code.as_str().to_string(), message: message.into(), detail: None }
    }

    pub fn with_detail(mut self, detail: serde_json::Value) -> ErrorBody {
        self.detail = Some(detail);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_shape() {
        let b = ErrorBody::new(ErrorCode::SignError, "签名错误");
        assert_eq!(serde_json::to_string(&b).unwrap(), r#"{"code":"SIGN_ERROR","message":"签名错误"}"#);
        assert_eq!(ErrorCode::SignError.status(), 401);
        assert_eq!(ErrorCode::OrderNotExist.status(), 404);
    }
}
