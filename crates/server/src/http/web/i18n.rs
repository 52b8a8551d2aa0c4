//! Every text a person reads on the cashier and collection pages, in Simplified Chinese (the default)
//! and English: one catalogue, `Msg` → (zh-CN, en), so that a page function never holds a sentence.
//!
//! The language of a request: an explicit `?lang=zh|en` (which the page also remembers in a cookie, so
//! that the forms that follow keep it), else that cookie, else the browser's `Accept-Language` (English
//! when it prefers English to Chinese), else Chinese. Texts take named arguments (`{amount}`), filled in
//! by [`Lang::fill`] (plain text, for callers that escape) or [`Lang::html`] (escaped text around HTML
//! the caller built).

use super::esc;
use axum::http::{header, HeaderMap};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

/// The cookie that remembers an explicit choice of language.
pub const LANG_COOKIE: &str = "saoma_lang";

impl Lang {
    /// `<html lang>`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The value of `?lang=` and of the cookie.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().as_str() {
            "zh" | "zh-cn" | "zh-hans" => Some(Lang::Zh),
            "en" | "en-us" | "en-gb" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language an `Accept-Language` header prefers among the two (`None`: neither is listed). The
    /// highest quality wins; at equal quality, the one listed first.
    pub fn from_accept_language(value: &str) -> Option<Lang> {
        let mut best: Option<(Lang, u32)> = None;
        for item in value.split(',') {
            let mut parts = item.split(';');
            let range = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let primary = range.split('-').next().unwrap_or("");
            let lang = match primary {
                "zh" => Lang::Zh,
                "en" => Lang::En,
                _ => continue,
            };
            // Quality in thousandths (q=0.9 → 900), integer arithmetic; malformed reads as 1.
            let q = parts.find_map(|p| p.trim().strip_prefix("q=").map(quality)).unwrap_or(1000);
            if q > 0 && best.is_none_or(|(_, bq)| q > bq) {
                best = Some((lang, q));
            }
        }
        best.map(|(l, _)| l)
    }

    /// The language of a request: `?lang=`, the remembered choice, `Accept-Language`, Chinese.
    pub fn of(headers: &HeaderMap, param: Option<&str>) -> Lang {
        param
            .and_then(Lang::from_code)
            .or_else(|| super::cookie(headers, LANG_COOKIE).and_then(Lang::from_code))
            .or_else(|| headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).and_then(Lang::from_accept_language))
            .unwrap_or(Lang::Zh)
    }

    /// The text of `m` in this language.
    pub fn t(self, m: Msg) -> &'static str {
        let (zh, en) = m.pair();
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// `m` with its `{name}`s replaced by `args` (plain text: the caller escapes the result).
    pub fn fill(self, m: Msg, args: &[(&str, &str)]) -> String {
        let mut out = self.t(m).to_string();
        for (name, value) in args {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }

    /// `m` escaped, with its `{name}`s replaced by HTML the caller built (and escaped) itself.
    pub fn html(self, m: Msg, args: &[(&str, &str)]) -> String {
        let mut out = esc(self.t(m));
        for (name, value) in args {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }

    /// A moment as people here read it: China time to the minute.
    pub fn time(self, unix: i64) -> String {
        let t = saoma_core::time::format_rfc3339_cst(unix);
        let minute = t.get(..16).unwrap_or(&t).replace('T', " ");
        self.fill(Msg::ChinaTime, &[("time", &minute)])
    }
}

/// `0.9` → 900 (at most three decimals, as RFC 9110 allows).
fn quality(s: &str) -> u32 {
    let s = s.trim();
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let frac: String = frac.chars().chain("000".chars()).take(3).collect();
    match (whole, frac.parse::<u32>()) {
        ("0", Ok(f)) => f,
        ("1", _) => 1000,
        _ => 1000,
    }
}

macro_rules! catalogue {
    ($($key:ident => $zh:literal, $en:literal;)*) => {
        /// A text of the pages (see the module doc).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Msg { $($key,)* }

        impl Msg {
            pub const ALL: &'static [Msg] = &[$(Msg::$key,)*];

            /// (zh-CN, en).
            pub fn pair(self) -> (&'static str, &'static str) {
                match self { $(Msg::$key => ($zh, $en),)* }
            }
        }
    };
}

catalogue! {
    // The wallet app (`/`): its shell and home.
    WalletTitle => "钱包", "Wallet";
    WalletLoginTitle => "登录钱包", "Log in to your wallet";
    WalletLoginHint => "输入手机号，获取短信验证码。还没有钱包？验证后可以当场开通。", "Enter your phone number to get an SMS code. No wallet yet? You can open one right after the code.";
    TabHome => "首页", "Home";
    TabPayCode => "付款码", "Pay";
    TabHistory => "账单", "History";
    TabMe => "我的", "Me";
    WalletOf => "{phone} 的钱包", "Wallet of {phone}";
    AvailableBalance => "可用余额", "Available balance";
    LogOut => "退出登录", "Log out";

    // The payment code (`/code`).
    PayCodeTitle => "向商家付款", "Pay a shop";
    PayCodeHint => "请把付款码出示给收银员扫描。它每分钟自动更新，只能使用一次。", "Show this code to the cashier to scan. It changes every minute and works only once.";
    PayCodeDigits => "付款码数字", "Code digits";
    PayCodeBarcodeAlt => "付款码条形码", "Payment code as a barcode";
    PayCodeQrAlt => "付款码二维码", "Payment code as a QR code";
    PayCodeRefresh => "刷新付款码", "New code";
    PayCodeWaitingTitle => "请输入支付密码", "Enter your PIN";
    PayCodeWaiting => "{merchant} 向你收款 {amount}。请输入支付密码完成付款；45 秒内未确认将自动撤销，不会扣款。", "{merchant} is charging you {amount}. Enter your PIN to pay; if you do not confirm within 45 seconds the payment is cancelled and nothing is charged.";
    PayCodeConfirm => "确认付款 {amount}", "Pay {amount}";
    PayCodePaidTitle => "付款成功", "Paid";
    PayCodePaid => "已向 {merchant} 付款 {amount}。", "You paid {merchant} {amount}.";
    PayCodeNoPin => "这笔付款需要支付密码，但你的钱包还没有设置支付密码，付款已无法完成。", "This payment needs a payment PIN and your wallet has none, so it cannot be completed.";
    PayCodeGone => "这笔付款已结束（已确认、已撤销或已超时）。", "This payment is over (confirmed, cancelled or timed out).";
    BackToWallet => "返回钱包", "Back to the wallet";

    // The page shell.
    SwitchLanguage => "English", "中文";
    ChinaTime => "{time}（北京时间）", "{time} (China time)";

    // History (`/history`) and Me (`/me`): the wallet's movements, the phone, the payment PIN.
    HistoryTitle => "账单", "History";
    HistoryHint => "最近 50 笔收支，最新的在前，时间为北京时间。", "Your latest 50 movements, newest first, in China time.";
    HistoryEmpty => "还没有任何收支记录。先用银行卡充值，再在商店出示付款码付款，记录就会出现在这里。", "Nothing here yet. Top up from a bank card, then show your payment code at a shop: your payments will appear here.";
    HistoryTopUp => "去充值", "Top up";
    HistoryShowCode => "出示付款码", "Show the payment code";
    HistPayment => "付款给 {merchant}", "Paid {merchant}";
    HistWithholding => "{merchant} 代扣", "{merchant} charged by agreement";
    HistRefund => "{merchant} 退款", "Refund from {merchant}";
    HistTopUp => "银行卡充值", "Top-up from a bank card";
    HistWithdrawal => "提现到银行卡", "Withdrawal to a bank card";
    HistDepositHeld => "{merchant} 乘车卡押金", "{merchant} transit card deposit";
    HistDepositReturned => "{merchant} 押金退回", "{merchant} deposit returned";
    StatePaid => "已支付", "Paid";
    StateRefunded => "有退款", "Refunded in part or whole";
    StateReversed => "已撤销", "Reversed";
    StateFailed => "失败", "Failed";
    StatePending => "处理中", "Pending";
    StateSucceeded => "成功", "Succeeded";
    StateDeclined => "银行已拒绝，余额未变", "Declined by the bank; your balance did not change";
    MeTitle => "我的", "Me";
    MePhone => "手机号", "Phone";
    PinSection => "支付密码", "Payment PIN";
    PinStateSet => "已设置", "Set";
    PinStateNone => "未设置", "Not set";
    PinStateLocked => "输错次数过多，已锁定至 {until}", "Locked until {until} after too many wrong tries";
    PinNoneHint => "钱包还没有支付密码。绑卡、充值、提现和超过免密额度的付款都需要它。我们会向 {phone} 发送验证码来确认是你本人。", "Your wallet has no payment PIN yet. Binding a card, topping up, withdrawing and payments above the password-free limit all need it. We will text a code to {phone} to make sure it is you.";
    PinSendCode => "发送验证码", "Text me a code";
    PinCodeSent => "验证码已发送至 {phone}，5 分钟内有效。输入验证码，再输入两次新的 6 位支付密码。", "We sent a code to {phone}; it is valid for 5 minutes. Enter it, then your new 6-digit PIN twice.";
    ChangePinHint => "输入当前支付密码，再输入两次新的 6 位支付密码。", "Enter your current PIN, then your new 6-digit PIN twice.";
    OldPinLabel => "当前支付密码", "Current PIN";
    NewPinLabel => "新支付密码（6 位数字）", "New PIN (6 digits)";
    NewPinAgainLabel => "再次输入新支付密码", "New PIN again";
    SetPinButton => "设置支付密码", "Set the PIN";
    ChangePinButton => "修改支付密码", "Change the PIN";
    PinMismatch => "两次输入的新支付密码不一致，请重新输入。", "The two new PINs differ. Enter the new PIN twice again.";
    PinBadFormat => "支付密码须为 6 位数字，请重新输入。", "The PIN must be 6 digits. Enter it again.";
    PinCodeMissing => "请输入短信验证码；没有收到？返回“我的”重新发送。", "Enter the SMS code; none arrived? Go back to Me and send a new one.";
    PinSetMeanwhile => "这个钱包刚刚设置了支付密码。如需修改，请输入当前支付密码。", "A PIN was just set for this wallet. To change it, enter the current PIN.";
    PinSetDone => "支付密码已设置。现在可以绑定银行卡并充值。", "Your PIN is set. You can now bind a bank card and top up.";
    PinChangedDone => "支付密码已修改，以后请使用新密码。", "Your PIN is changed. Use the new one from now on.";
    MoreSection => "更多", "More";
    CardsLink => "银行卡、充值与提现", "Bank cards, top-up and withdrawal";
    AgreementsLink => "免密支付与代扣协议", "Payment agreements";

    // The order and the payment.
    // Bank cards (`/cards`: binding, top-up, withdrawal) and withholding agreements (`/agreements`).
    CardsTitle => "银行卡", "Bank cards";
    CardsNone => "还没有绑定银行卡。绑定后可以从卡里充值到钱包，也可以把余额提现到卡里。", "No bank card yet. Add one to top up your wallet from it or withdraw your balance to it.";
    CardTail => "银行卡 尾号 {tail}", "Card ending in {tail}";
    CardBoundAt => "绑定于 {time}", "Added {time}";
    CardsHint => "充值和提现都需要支付密码。", "Top-ups and withdrawals need your payment PIN.";
    BindTitle => "绑定银行卡", "Add a bank card";
    BindHint => "输入卡号和支付密码，银行会向你的手机发送验证码，输入后即完成绑定。", "Enter the card number and your PIN; the bank then texts your phone a code, and typing it adds the card.";
    CardNoLabel => "银行卡号（16–19 位数字）", "Card number (16–19 digits)";
    BindButton => "获取银行验证码", "Get the bank's code";
    BindCodeTitle => "输入银行验证码", "Enter the bank's code";
    BindCodeSent => "银行已向 {phone} 发送验证码，用于绑定尾号 {tail} 的卡。5 分钟内有效，可以尝试 3 次。", "The bank texted a code to {phone} for the card ending in {tail}. It is valid for 5 minutes, 3 tries.";
    BankCodeLabel => "银行短信验证码", "Code from the bank's SMS";
    BindConfirm => "确认绑定", "Add the card";
    CardBoundTitle => "绑定成功", "Card added";
    CardBound => "尾号 {tail} 的银行卡已绑定。现在可以用它充值或提现。", "The card ending in {tail} is added. You can now top up from it or withdraw to it.";
    CardBadNumber => "卡号应为 16–19 位数字。请核对卡片上的号码后重新输入。", "A card number has 16–19 digits. Check the number on the card and enter it again.";
    CardAlreadyBound => "这张卡已经绑定在你的钱包里，无需再绑，可以直接充值或提现。", "This card is already in your wallet: you can top up or withdraw with it now.";
    CardBoundElsewhere => "这张卡已绑定在另一个钱包，不能再绑定到这里。请换一张卡。", "This card is in another wallet and cannot be added here. Use another card.";
    CardRefused => "银行拒绝绑定这张卡。请换一张卡，或联系发卡银行。", "The bank refused to add this card. Use another card, or call the bank that issued it.";
    CardCodeWrong => "验证码不对，还可以再试 {n} 次。请核对银行发来的短信。", "Wrong code: {n} tries left. Check the bank's text message.";
    CardCodeFailed => "验证码已过期或输错次数过多，这次绑定已失效。请重新输入卡号获取新的验证码。", "The code expired or was wrong too many times, so this attempt is over. Enter the card number again for a new code.";
    CardTooMany => "今天申请绑卡的次数太多。请在 {until} 之后再试。", "Too many attempts to add a card today. Try again after {until}.";
    CardChoose => "请选择一张已绑定的银行卡。", "Choose one of your bank cards.";
    CardLabel => "银行卡", "Bank card";
    BindFirst => "请先绑定一张银行卡，再充值或提现。", "Add a bank card first, then top up or withdraw.";
    TopUpTitle => "充值", "Top up";
    WithdrawTitle => "提现", "Withdraw";
    TopUpHint => "从银行卡转入钱包。", "Move money from your bank card into the wallet.";
    WithdrawHint => "从钱包转到银行卡，可提现 {balance}。", "Move money from the wallet to your bank card; you can withdraw up to {balance}.";
    TopUpAmount => "充值金额（元）", "Amount to top up (yuan)";
    WithdrawAmount => "提现金额（元）", "Amount to withdraw (yuan)";
    TopUpButton => "确认充值", "Top up";
    WithdrawButton => "确认提现", "Withdraw";
    TopUpDoneTitle => "充值成功", "Topped up";
    TopUpDone => "已从尾号 {tail} 的银行卡充值 {amount}。钱包余额 {balance}。", "{amount} came in from the card ending in {tail}. Wallet balance: {balance}.";
    WithdrawDoneTitle => "提现成功", "Withdrawn";
    WithdrawDone => "已把 {amount} 提现到尾号 {tail} 的银行卡。钱包余额 {balance}。", "{amount} went to the card ending in {tail}. Wallet balance: {balance}.";
    BankPendingTitle => "银行处理中", "The bank is working on it";
    TopUpPending => "银行还在处理这笔 {amount} 的充值。结果出来后会自动入账，请不要重复提交；稍后回到钱包查看余额。", "The bank is still processing this top-up of {amount}. It will be credited by itself once the bank answers: do not send it again, and check your balance later.";
    WithdrawPending => "银行还在处理这笔 {amount} 的提现，这笔钱已暂时冻结。银行确认后自动到账；如被拒绝，钱会退回钱包。请不要重复提交。", "The bank is still processing this withdrawal of {amount}; the money is held meanwhile. It reaches your card once the bank confirms, or returns to your wallet if the bank refuses. Do not send it again.";
    BankDeclinedTitle => "银行已拒绝", "Declined by the bank";
    TopUpDeclined => "发卡银行拒绝了这笔 {amount} 的充值，钱包和银行卡都没有变动。请换一张卡，或联系银行。", "The card's bank declined this top-up of {amount}; neither your wallet nor your card changed. Use another card, or call the bank.";
    WithdrawDeclined => "银行拒绝了这笔 {amount} 的提现，钱已退回钱包。请换一张卡，或联系银行。", "The bank declined this withdrawal of {amount}; the money is back in your wallet. Use another card, or call the bank.";
    WithdrawNotEnough => "可提现余额 {balance}，不够提现 {amount}。请输入不超过余额的金额。", "You can withdraw at most {balance}, not {amount}. Enter a smaller amount.";
    BankFormUsed => "这个表单已经提交过另一笔操作。请核对后在这个新表单里重新提交。", "This form was already sent for another operation. Check the details and send this new form.";
    BackToCards => "返回银行卡", "Back to bank cards";
    AgreementsTitle => "自动扣费", "Automatic payments";
    AgreementsNone => "你还没有自动扣费协议。商户（如公交）发起签约后，会在这里等你确认。", "You have no automatic payment agreements. When a merchant (a transit operator, say) proposes one, it waits here for you.";
    LimitPerCharge => "每笔限额", "Per charge";
    LimitPerDay => "每日限额", "Per day";
    AgreementStateLabel => "状态", "State";
    AgreementProposed => "待你确认", "Waiting for you";
    AgreementSigned => "已生效", "Active";
    AgreementTerminated => "已解约", "Ended";
    SignHint => "签约后，{merchant} 可以在以上限额内直接从你的钱包扣款，无需每次确认。你可以随时解约。", "Once you sign, {merchant} may charge your wallet within these limits without asking each time. You can end it at any time.";
    SignButton => "同意并签约", "Agree and sign";
    SignedTitle => "签约成功", "Signed";
    Signed => "{merchant} 现在可以在限额内自动扣款。", "{merchant} may now charge you automatically within the limits.";
    TerminateButton => "解约", "End this agreement";
    TerminateTitle => "确认解约", "End the agreement?";
    TerminateText => "解约后，{merchant} 将不能再从你的钱包自动扣款（{description}）。", "Once ended, {merchant} can no longer charge your wallet automatically ({description}).";
    TerminateYes => "确认解约", "End it";
    TerminateNo => "不解约，返回", "Keep it";
    TerminatedTitle => "已解约", "Agreement ended";
    Terminated => "{merchant} 不能再自动扣款。", "{merchant} can no longer charge you automatically.";
    AgreementExpired => "这份签约申请已超过 24 小时，已失效。如仍需开通，请让商户重新发起。", "This proposal is more than 24 hours old and has lapsed. Ask the merchant to propose it again if you still want it.";
    AgreementEnded => "这份协议已经解约，不能再签约。如仍需开通，请让商户重新发起。", "This agreement has ended and cannot be signed. Ask the merchant for a new one if you still want it.";
    AgreementAlreadySigned => "这份协议已经签约，无需再签。", "This agreement is signed already; there is nothing more to do.";
    AgreementNotFound => "找不到这份协议。请回到列表重新选择。", "There is no such agreement of yours. Go back to the list and choose again.";
    CheckoutTitle => "收银台", "Checkout";
    LoginTitle => "登录后付款", "Log in to pay";
    LoginHint => "输入手机号，获取短信验证码。还没有钱包？验证后可以当场开通。", "Enter your phone number to get an SMS code. No wallet yet? You can open one right after the code.";
    PhoneLabel => "手机号", "Phone number";
    SendCode => "获取验证码", "Send code";
    PayingFrom => "付款钱包：{phone}", "Paying from the wallet of {phone}";
    NotYou => "不是你？换个账号", "Not you? Switch account";
    Balance => "可用余额 {balance}", "Balance {balance}";
    PinLabel => "支付密码（6 位数字）", "Payment PIN (6 digits)";
    PinNotSet => "这笔付款需要支付密码，但你的钱包还没有设置支付密码。请先在钱包中设置支付密码，再回到此页面付款。", "This payment needs your payment PIN, and your wallet has none yet. Set a PIN in the wallet first, then come back to this page.";
    PayButton => "确认支付 {amount}", "Pay {amount}";
    ScanOnPhone => "也可以用手机扫码，在手机上付款", "Or scan to pay on your phone";
    QrAlt => "本页面的二维码", "QR code of this page";
    NotEnough => "钱包余额不足：本单需 {total}，可用余额 {balance}。请先在钱包中用银行卡充值，再回到此页面付款。", "Your wallet balance is not enough for {total} (you have {balance}). Top up your wallet from a bank card in the wallet, then come back to this page and pay.";
    ToppedUp => "已充值？刷新此页面", "Topped up? Reload this page";
    PinRequired => "这笔付款超过免密额度，需要输入 6 位支付密码。", "This payment needs your 6-digit payment PIN.";
    PinWrong => "支付密码错误，还可以再试 {n} 次，用完后需要密码的付款将被锁定。请重新输入。", "Wrong PIN. {n} tries left before PIN payments are locked. Enter it again.";
    PinWrongOne => "支付密码错误，只能再试 1 次；再错将锁定需要密码的付款。请仔细输入。", "Wrong PIN. 1 try left before PIN payments are locked. Enter it carefully.";
    PinLocked => "支付密码错误次数过多，需要密码的付款已锁定至 {until}。请届时再试；免密额度内的付款不受影响。", "Too many wrong PINs: payments that need the PIN are locked until {until}. Try again after that; payments within the password-free limit still work.";
    PinBusy => "你的支付密码正在为其他请求校验，请稍等片刻再试。", "Your PIN is being checked for other requests right now. Wait a moment and try again.";
    SessionEnded => "登录已失效，请重新登录后付款。", "Your session has ended. Log in again to pay.";
    PayFailedTitle => "支付失败", "Payment failed";
    NothingCharged => "本次未扣款。", "Nothing was charged.";
    BackToPayment => "返回付款页面", "Back to the payment";

    // Orders that cannot be paid.
    LinkIncompleteTitle => "链接不完整", "Incomplete link";
    LinkIncomplete => "这个付款链接缺少 prepay_id。请回到商户重新发起付款。", "This payment link has no prepay_id. Go back to the merchant and start the payment again.";
    OrderNotFoundTitle => "订单不存在", "No such order";
    OrderNotFound => "这个链接没有可支付的订单。请回到商户重新发起付款。", "There is no order to pay at this link. Go back to the merchant and start the payment again.";
    OrderClosedTitle => "订单已关闭", "Order closed";
    OrderClosed => "商户已关闭这笔订单，不能再付款，也没有扣款。如仍需购买，请回到商户重新下单。", "The merchant closed this order: it can no longer be paid, and nothing was charged. Go back to the merchant to order again.";
    OrderExpiredTitle => "订单已过期", "Order expired";
    OrderExpired => "这笔订单已超过付款时限，不能再付款。请回到商户重新下单。", "This order is past its time to pay and can no longer be paid. Go back to the merchant to order again.";
    OrderRevokedTitle => "付款已撤销", "Payment revoked";
    OrderRevoked => "这笔订单的付款已撤销（未及时确认，或被商户撤销），不能再付款。请回到商户重新下单。", "The payment of this order was revoked (not confirmed in time, or reversed by the merchant); it can no longer be paid. Go back to the merchant to order again.";
    OrderPaidTitle => "订单已支付", "Already paid";
    OrderPaid => "这笔订单已经付过款，无需再付。如果是你付的，登录后可以查看付款凭证。", "This order has already been paid; there is nothing more to pay. If you paid it, log in to see your receipt.";
    OrderPaidByOther => "这笔订单已由其他账号付款，无需再付。", "This order has already been paid from another wallet; there is nothing more to pay.";
    OrderPayingTitle => "正在付款", "Payment in progress";
    OrderPaying => "这笔订单正在付款中。请先在钱包中查看是否已经扣款，不要重复付款。", "A payment of this order is in progress. Check your wallet before paying again.";
    PayerMismatchTitle => "不是你的订单", "Not your order";
    PayerMismatch => "商户是为另一位用户下的这笔订单，只有该用户可以付款，你的钱包没有扣款。请用下单时的账号登录，或回到商户用你的账号重新下单。", "The merchant placed this order for another user, and only that user can pay it; nothing was charged to you. Log in with the account that placed the order, or go back to the merchant and order with yours.";
    SwitchAccount => "换个账号登录", "Log in with another account";
    BadRedirectTitle => "返回地址无效", "Bad return address";
    BadRedirect => "此付款链接的 redirect_url 不是商户登记的 H5 域名下的地址。请回到商户重新发起付款。", "This payment link's redirect_url is not an address on the merchant's registered H5 domains. Go back to the merchant and start the payment again.";
    SystemErrorTitle => "系统错误", "System error";
    SystemError => "我们这边出了问题，本次未扣款。请稍后重试。", "Something went wrong on our side; nothing was paid. Please try again.";
    CrossSiteTitle => "已拒绝", "Refused";
    CrossSite => "这个表单来自其他网站。请重新打开付款页面，在页面上付款。", "This form was sent from another site. Open the payment page again and pay from there.";

    // Logging in and opening a wallet.
    CodeTitle => "输入验证码", "Enter the SMS code";
    CodeSent => "验证码已发送至 {phone}，5 分钟内有效。", "We sent a 6-digit code to {phone}. It is valid for 5 minutes.";
    CodeLabel => "短信验证码", "SMS code";
    LoginButton => "登录", "Log in";
    Back => "返回", "Back";
    BadPhone => "手机号格式不正确：请输入 11 位手机号（如 13800138000），或以 + 开头的国际号码。", "That is not a phone number we can text: enter an 11-digit mainland mobile number (like 13800138000) or an international number starting with +.";
    BadCode => "验证码错误、已使用或已过期（还可以再试 {n} 次）。请核对短信；如已过期，请返回重新获取验证码。", "The code is wrong, used or expired ({n} tries left). Check the SMS, or go back and send a new code.";
    TooManyCodes => "验证码刚刚发送过（获取次数过多）。请使用最近收到的验证码，或 {secs} 秒后再获取新的验证码。", "A code was sent recently (too many codes asked for). Use the last code you received, or ask for a new one in {secs} seconds.";
    TooManyTries => "这个网络上输错验证码的次数过多。请 {secs} 秒后再试。", "Too many wrong codes from this network. Try again in {secs} seconds.";
    LoginLocked => "验证码错误次数过多，这个手机号的登录已锁定至 {until}。请届时再试。", "Too many wrong codes: logging in with this phone is locked until {until}. Try again after that.";
    BadLinkTitle => "链接无效", "Bad link";
    BadLink => "这个登录表单不是来自付款页面。请重新打开付款页面。", "This login form does not come from a payment page. Open the payment page again.";
    NoWalletTitle => "开通钱包", "Open a wallet";
    NoWallet => "手机号 {phone} 还没有 saoma 钱包。验证码已证明这是你的手机号，现在就可以开通钱包。新钱包余额为 ¥0.00，付款前需要先充值。", "There is no saoma wallet for {phone} yet. The code proved the phone is yours: you can open a wallet now. A new wallet holds ¥0.00 and needs a top-up before it can pay.";
    RegisterButton => "开通钱包并继续", "Open the wallet and continue";
    OtherPhone => "换个手机号", "Use another phone number";

    // The receipt.
    PaidTitle => "支付成功", "Payment successful";
    Merchant => "商户", "Merchant";
    Item => "商品", "Item";
    PaidAt => "支付时间", "Paid at";
    TransactionNo => "交易单号", "Transaction no.";
    MerchantOrderNo => "商户单号", "Merchant order no.";
    Refunded => "已退款", "Refunded";
    PaidFrom => "付款钱包", "Paid from";
    Done => "完成", "Done";
    ReturnsSoon => "5 秒后自动返回商户页面。", "Returning to the merchant's page in 5 seconds.";
    NoPaymentTitle => "没有这笔付款", "No such payment";
    NoPayment => "这里没有你的付款可以显示。请在付款页面登录后查看。", "There is no payment of yours to show here. Log in on the payment page to see your payments.";
    DoneTitle => "已完成", "All done";
    DoneText => "付款已完成，现在可以关闭此页面了。", "The payment is done; you can close this page now.";

    // The collection code.
    CollectTitle => "收款码", "Collection code";
    CollectHeading => "向商家付款", "Pay the merchant";
    AmountLabel => "付款金额（元）", "Amount (yuan)";
    CollectPay => "付款", "Pay";
    CollectCaption => "{merchant} 的收款码", "{merchant}'s collection code";
    CollectAlt => "收款码", "collection code";
    NoMerchantTitle => "商户不存在", "No such merchant";
    NoMerchant => "这个收款码不属于任何商户。请向商家索取正确的收款码。", "This collection code does not belong to any merchant. Ask the merchant for its code.";
    FormOutdatedTitle => "表单已过期", "Out-of-date form";
    FormOutdated => "此付款表单已过期。请重新打开商家的收款页面。", "This payment form is out of date. Open the merchant's page again.";
    FormUsed => "此付款表单已经用过。如需再付一笔，请重新打开商家的收款页面。", "This payment form was used already. Open the merchant's page again to make another payment.";
    NotSetUpTitle => "暂不能收款", "Not set up";
    NotSetUp => "这个商户还不能收款（没有关联应用）。请换一种方式付款。", "This merchant cannot take payments yet (it has no app). Pay another way.";
    AmountFormat => "请按元输入金额，如 12 或 12.34（最多两位小数）。", "Enter the amount in yuan, like 12 or 12.34 (at most two decimals).";
    AmountZero => "金额至少为 0.01 元。", "The amount must be at least 0.01 yuan.";
    AmountTooLarge => "金额不能超过 {max} 元。", "The amount must be at most {max} yuan.";
    AmountRefused => "这个金额不能在这里付款。请检查金额后重试。", "This amount cannot be paid here. Check it and try again.";

    // The merchant console (console/): its login, the takings of the day, orders and staff.
    ConsoleTitle => "商户收款台", "Merchant console";
    ConsoleLoginTitle => "登录商户收款台", "Log in to the merchant console";
    ConsoleLoginHint => "店员请输入手机号，我们会发送验证码；验证后再输入你的收款台密码。", "Staff: enter your phone number and we will text you a code; then enter your console password.";
    ConsoleNext => "下一步", "Next";
    ConsoleNotStaff => "这个手机号不是任何商户的店员。请让店长或平台为你添加账号，或换个手机号。", "This phone number is not staff of any merchant. Ask your manager or the platform to add you, or use another number.";
    ConsolePasswordTitle => "输入收款台密码", "Enter your console password";
    ConsolePasswordHint => "{name}（{phone}），手机号已验证。请输入你的收款台密码。", "{name} ({phone}): your phone is verified. Enter your console password.";
    ConsolePasswordLabel => "收款台密码", "Console password";
    ConsoleWrongPassword => "密码错误（还可以再试 {n} 次）。请重新输入；忘记密码请联系店长。", "Wrong password ({n} tries left). Type it again; if you forgot it, ask your manager.";
    ConsolePasswordLocked => "密码错误次数过多，收款台登录已锁定至 {until}。请届时再试，或联系店长。", "Too many wrong passwords: the console is locked for you until {until}. Try again then, or ask your manager.";
    ConsolePasswordBusy => "正在核对你刚才输入的密码，请稍后再试一次。", "Your last passwords are still being checked. Try again in a moment.";
    ConsoleSessionGone => "登录已过期或已退出，请重新输入手机号登录。", "Your login expired or ended. Enter your phone number to log in again.";
    ConsoleWho => "{name}（{role}）· {shop}", "{name} ({role}) · {shop}";
    ConsoleRoleManager => "店长", "Manager";
    ConsoleRoleCashier => "收银员", "Cashier";
    ConsoleTabTakings => "今日收款", "Takings";
    ConsoleTabOrders => "订单", "Orders";
    ConsoleTabStaff => "店员", "Staff";
    ConsoleTodayTakings => "今日收款（北京时间）", "Today's takings (China time)";
    ConsolePaymentCount => "共 {n} 笔", "{n} payments";
    ConsoleLiveHint => "新的收款会在 2 秒内自动出现在这里，无需刷新。", "New payments appear here by themselves within 2 seconds; no need to reload.";
    ConsoleSpeakToggle => "语音播报收款", "Announce payments aloud";
    ConsoleSpeak => "收款到账 {amount}", "Payment received {amount}";
    ConsoleLatest => "最近收款", "Latest payments";
    ConsoleNoPayments => "今天还没有收款。顾客付款后会显示在这里。", "No payments yet today. They will show here as customers pay.";
    ConsoleManagersOnlyTitle => "仅限店长", "Managers only";
    ConsoleManagersOnly => "这个页面只有店长可以查看。你可以在“今日收款”查看收款。", "Only managers can open this page. You can see the payments under Takings.";
    ConsoleBackToTakings => "返回今日收款", "Back to the takings";
    ConsoleOrdersTitle => "查询订单", "Find orders";
    ConsoleOrderNoLabel => "商户单号或交易单号（可不填）", "Merchant order no. or transaction no. (optional)";
    ConsoleStateLabel => "订单状态", "Order state";
    ConsoleStateAny => "全部状态", "Any state";
    ConsoleStateSuccess => "支付成功", "Paid";
    ConsoleStateRefund => "已转入退款", "Refunded";
    ConsoleStateNotPay => "未支付", "Not paid";
    ConsoleStateClosed => "已关闭", "Closed";
    ConsoleStateUserPaying => "等待顾客输入密码", "Waiting for the customer's PIN";
    ConsoleStateRevoked => "已撤销", "Revoked";
    ConsoleStatePayError => "支付失败", "Payment failed";
    ConsoleDayLabel => "下单日期（不填单号时按日期查询）", "Day the order was made (used when no number is given)";
    ConsoleSearch => "查询", "Search";
    ConsoleFound => "找到 {n} 笔订单", "{n} orders found";
    ConsoleNoOrders => "没有符合条件的订单。请检查单号，或换个日期或状态再查。", "No orders match. Check the number, or try another day or state.";
    ConsoleBadDay => "日期格式不正确，已按今天查询。请按 2026-01-31 的格式选择日期。", "That date could not be read, so today is shown. Pick a date like 2026-01-31.";
    ConsoleBadState => "没有这个订单状态，已查询全部状态。", "There is no such order state, so every state is shown.";
    ConsoleStaffTitle => "店员", "Staff";
    ConsoleStaffAdded => "已添加店员 {name}。请告诉 TA 用手机号和你设置的密码登录。", "{name} was added. Tell them to log in with their phone number and the password you set.";
    ConsoleAddStaffTitle => "添加店员", "Add a staff member";
    ConsoleNameLabel => "姓名", "Name";
    ConsoleRoleLabel => "角色", "Role";
    ConsoleNewPasswordLabel => "TA 的收款台密码", "Their console password";
    ConsolePasswordRule => "密码至少 {min} 个字符。", "The password must have at least {min} characters.";
    ConsoleAddStaff => "添加店员", "Add staff member";
    ConsoleBadName => "请填写姓名（最多 {max} 个字）。", "Enter a name (at most {max} characters).";
    ConsoleBadRole => "请选择角色：店长或收银员。", "Choose a role: manager or cashier.";
    ConsolePhoneTaken => "这个手机号已经是店员了（一个手机号只能属于一个商户）。请换个手机号。", "This phone number is staff already (a number belongs to one merchant). Use another number.";

    // The transit card in the wallet (transit/pages.rs): opening it, the ride code, rides, debt, the card refund.
    TransitTitle => "乘车码", "Ride code";
    TransitHomeLink => "乘车码（公交地铁）", "Ride code (buses and metro)";
    TransitNoOperator => "这里暂时没有开通乘车码的公交或地铁。请使用其他方式乘车。", "No bus or metro operator offers the ride code here yet. Pay for your ride another way.";
    TransitChooseOperator => "选择要乘坐的公交或地铁：", "Choose the bus or metro you ride:";
    TransitOperatorDeposit => "押金 {deposit}", "Deposit {deposit}";
    TransitOpenTitle => "开通 {merchant} 乘车码", "Open the {merchant} ride code";
    TransitOpenHint => "开通时从钱包扣除押金 {deposit}，由 {merchant} 代为保管，退卡后退回钱包。乘车后按票价从钱包自动扣费（免密代扣，每次不超过 {max_fare}），无需每次输入密码。请输入支付密码确认开通。", "Opening it takes a deposit of {deposit} from your wallet, held for {merchant} and returned when you give the card back. After each ride the fare is taken from your wallet automatically (by agreement, at most {max_fare} a ride), with no PIN each time. Enter your PIN to open it.";
    TransitDepositLabel => "押金", "Deposit";
    TransitOpenButton => "支付押金 {deposit} 并开通", "Pay the {deposit} deposit and open";
    TransitOpened => "乘车码已开通。进站时出示乘车码，对准闸机扫码口即可。", "Your ride code is open. At the gate, show the ride code to the scanner.";
    TransitNotEnough => "钱包余额 {balance}，不够支付押金 {deposit}。请先充值，再回来开通。", "Your wallet holds {balance}, not enough for the {deposit} deposit. Top up first, then come back to open it.";
    TransitTopUp => "去充值", "Top up";
    TransitCardNo => "卡号", "Card no.";
    TransitStateLabel => "状态", "State";
    TransitStateActive => "可用", "Active";
    TransitStateBlocked => "已暂停", "Paused";
    TransitStateLeaving => "退卡中", "Being returned";
    TransitStateClosed => "已退卡", "Returned";
    TransitShowCode => "出示乘车码", "Show the ride code";
    TransitDebtTitle => "欠款 {debt}", "You owe {debt}";
    TransitDebtText => "有 {n} 次乘车的车费没能从钱包扣款（当时余额不足）。补缴之前乘车码不能使用。请确认钱包余额足够，再输入支付密码补缴。", "The fare of {n} rides could not be taken from your wallet (the balance was short). The ride code cannot be used until you pay. Make sure your wallet holds enough, then enter your PIN to pay.";
    TransitRepayButton => "从钱包补缴 {debt}", "Pay {debt} from the wallet";
    TransitRepaid => "已从钱包补缴 {amount}，乘车码恢复可用。", "You paid {amount} from your wallet; the ride code works again.";
    TransitRepayNotEnough => "钱包余额 {balance}，不够补缴 {debt}。请先充值，再回来补缴。", "Your wallet holds {balance}, not enough to pay {debt}. Top up first, then come back to pay.";
    TransitNoDebt => "没有需要补缴的车费。", "There is nothing to pay.";
    TransitBlocked => "你的乘车码在另一台闸机上被重复使用（可能是被截图或复制了）。为保护你的钱包，乘车码暂停使用至 {until}，之后会自动恢复。在此之前请用其他方式乘车；如果你没有把乘车码给别人，请联系 {merchant}。", "Your ride code was used again at another gate (a screenshot or a copy, perhaps). To protect your wallet it is paused until {until} and works again by itself after that. Until then pay for rides another way; if you did not give the code to anyone, contact {merchant}.";
    TransitLeaving => "你在 {requested} 申请了退卡，乘车码已停用。为等待闸机晚到的乘车记录，押金 {deposit} 将在 72 小时等待期后退回钱包，最早 {due}。", "You asked to give the card back at {requested}; the ride code no longer works. So that late gate records can still arrive, the {deposit} deposit comes back to your wallet after a 72-hour hold, at the earliest {due}.";
    TransitLeavingDebt => "押金要等欠款补缴之后才能退回。", "The deposit comes back only after what you owe is paid.";
    TransitClosed => "卡号 {card_no} 已退卡，押金 {deposit} 已于 {time} 退回钱包。想再乘车，可以重新开通。", "The card {card_no} was given back; its {deposit} deposit returned to your wallet at {time}. To ride again, open a new one.";
    TransitRidesTitle => "乘车记录", "Rides";
    TransitNoRides => "还没有乘车记录。进出站后，记录会在闸机上传后出现在这里。", "No rides yet. They appear here once the gates upload them after you ride.";
    TransitRideStops => "{from} → {to}", "{from} → {to}";
    TransitStop => "站点 {stop}", "stop {stop}";
    TransitRideIn => "{stop} 进站", "In at {stop}";
    TransitRideOut => "{stop} 出站", "Out at {stop}";
    TransitRideCharged => "已扣款", "Paid";
    TransitRideDebt => "扣款失败，待补缴", "Not paid: owed";
    TransitRideOpen => "行程中，出站后结算", "In progress: settled at the exit";
    TransitRideCorrected => "已按实际行程更正", "Corrected to the actual trip";
    TransitRefundTitle => "退卡", "Give the card back";
    TransitRefundLink => "退卡并退回押金", "Give the card back and get the deposit";
    TransitRefundText => "退卡后乘车码立即停用。押金 {deposit} 不会马上退回：闸机可能离线，乘车记录会晚到，所以要等 72 小时（从退卡或最后一个乘车码失效起，取较晚者），确认没有欠款后自动退回钱包。", "Once you give the card back the ride code stops working at once. The {deposit} deposit does not come back right away: gates may be offline and their records arrive late, so it waits 72 hours (from now or from when your last ride code expires, whichever is later) and then returns to your wallet by itself if nothing is owed.";
    TransitRefundYes => "确认退卡", "Give the card back";
    TransitRefundNo => "暂不退卡", "Keep the card";
    TransitCodeTitle => "乘车码", "Ride code";
    TransitCodeAlt => "乘车码二维码，请对准闸机扫码口", "Ride code as a QR code: hold it to the gate's scanner";
    TransitCodeHint => "进出站时把乘车码对准闸机扫码口。乘车码每 30 秒自动更新，截图无效。", "Hold the ride code to the gate's scanner when you enter and leave. It changes every 30 seconds; a screenshot will not work.";
    TransitCodeMade => "生成于 {time}", "Made at {time}";
    TransitCodeRefresh => "刷新乘车码", "New code";
    TransitBackToCard => "返回乘车卡", "Back to the card";
    TransitNoSuchOperator => "没有这个乘车码服务。请从钱包首页进入乘车码。", "There is no such ride code service. Open the ride code from the wallet's home.";
    HistRideOwed => "{merchant} 乘车 未付车费", "{merchant} ride, fare owed";
    StateOwed => "扣款失败，钱包未扣款；请在乘车码页面补缴", "Not taken from your wallet; pay it on the ride code page";


    // The merchant console, part two (console/): refunds, an order's detail, bills, API settings, the stand.
    ConsoleOrderTitle => "订单详情", "Order details";
    ConsoleOrderDetails => "查看详情", "Details";
    ConsoleBackToOrders => "返回订单查询", "Back to the order search";
    ConsoleOrderNotFoundTitle => "找不到订单", "Order not found";
    ConsoleOrderNotFound => "这个商户没有这笔订单。请回到订单查询，检查单号后再试。", "This shop has no such order. Go back to the order search and check the number.";
    ConsoleOrderState => "状态", "State";
    ConsoleOrderOutTradeNo => "商户单号", "Merchant order no.";
    ConsoleOrderTransactionId => "交易单号", "Transaction no.";
    ConsoleOrderDescription => "商品", "Item";
    ConsoleOrderPaidAt => "支付时间", "Paid at";
    ConsoleOrderExpires => "支付截止", "Pay by";
    ConsoleOrderPayer => "付款人（openid）", "Payer (openid)";
    ConsoleOrderRefunded => "已退款", "Refunded";
    ConsoleOrderRefundable => "可退金额", "Left to refund";
    ConsoleRefundsTitle => "退款记录", "Refunds";
    ConsoleNoRefunds => "这笔订单还没有退款。", "This order has no refunds.";
    ConsoleRefundReason => "原因：{reason}", "Reason: {reason}";
    ConsoleRefundFormTitle => "退款给顾客", "Refund the customer";
    ConsoleRefundHint => "退款会立即从商户余额退回顾客的零钱，无法撤回。请核对金额，再输入你自己的收款台密码确认。", "The refund goes from the shop's balance back to the customer's wallet at once and cannot be undone. Check the amount, then confirm with your own console password.";
    ConsoleRefundAmountLabel => "退款金额（元，最多 {max}）", "Amount to refund (yuan, at most {max})";
    ConsoleRefundReasonLabel => "退款原因（可不填）", "Reason (optional)";
    ConsoleRefundPasswordLabel => "你的收款台密码", "Your console password";
    ConsoleRefundButton => "确认退款", "Refund";
    ConsoleRefundDone => "已退款 {amount}，退款单号 {no}。", "Refunded {amount}; refund no. {no}.";
    ConsoleRefundBadAmount => "请填写退款金额，例如 12.50（最多两位小数，不超过 {max}）。", "Enter the amount to refund, such as 12.50 (at most two decimals, at most {max}).";
    ConsoleRefundExceeds => "退款金额超过了可退金额 {max}。请改小金额后再试。", "That is more than is left to refund ({max}). Enter a smaller amount.";
    ConsoleRefundNotPaid => "这笔订单没有支付成功，没有可退的钱。", "This order was not paid: there is nothing to refund.";
    ConsoleRefundTooMany => "这笔订单的退款次数已达上限（{n} 次），不能再退款。", "This order has had the most refunds allowed ({n}); it cannot be refunded again.";
    ConsoleRefundTooLate => "这笔订单支付已超过一年，不能再退款。", "This order was paid more than a year ago and can no longer be refunded.";
    ConsoleRefundNotEnough => "商户余额不足，无法退款。请有新的收款后再试。", "The shop's balance is too low for this refund. Try again after new payments come in.";
    ConsoleRefundFormUsed => "这张退款表单已经用过了，同一张表单只退款一次。请查看下面的退款记录，需要再退款请重新填写。", "This refund form was used already: one form refunds once. See the refunds below; fill in the form again for another refund.";
    ConsoleRefundBadForm => "退款表单无效。请重新打开订单页面再填写。", "This refund form is not valid. Open the order again and fill it in.";
    ConsoleRefundWrongPassword => "密码错误，没有退款（还可以再试 {n} 次，与登录共用次数）。请重新输入。", "Wrong password: nothing was refunded ({n} tries left, shared with logging in). Type it again.";
    ConsoleNotificationsTitle => "发给商户服务器的通知", "Notifications to your server";
    ConsoleNoNotifications => "这笔订单没有通知（下单时没有通知地址，例如付款码支付）。", "There are no notifications for this order (it had no notify_url, as payment-code orders).";
    ConsoleNoticeDelivered => "已送达（{time}）", "Delivered ({time})";
    ConsoleNoticePending => "未送达，将于 {time} 重试", "Not delivered yet; next try {time}";
    ConsoleNoticeFailed => "多次重试仍未送达，已停止重试", "Not delivered after every retry; no more tries";
    ConsoleNoAttempts => "还没有发送过。", "Not sent yet.";
    ConsoleAttemptStatus => "{time} · 返回 HTTP {status}", "{time} · answered HTTP {status}";
    ConsoleAttemptError => "{time} · 失败：{error}", "{time} · failed: {error}";
    ConsoleTodayRefunds => "今日退款 {amount}（{n} 笔）", "Refunded today: {amount} ({n})";
    ConsoleTabBills => "账单", "Bills";
    ConsoleBillsTitle => "下载账单", "Download bills";
    ConsoleBillsHint => "账单按北京时间的自然日生成：某天的账单在次日 00:05 后可下载，保留三个月。内容与 API 下载的账单相同（CSV 文件）。", "A bill covers one day, China time: it can be downloaded from 00:05 the next day, for three months. It is the same CSV file the API gives.";
    ConsoleBillDayLabel => "账单日期", "Day";
    ConsoleTradeBill => "下载交易账单", "Download the trade bill";
    ConsoleFundBill => "下载资金账单", "Download the fund-flow bill";
    ConsoleBillNone => "{day} 没有收款或退款，所以没有账单。请换个日期。", "There were no payments or refunds on {day}, so there is no bill. Pick another day.";
    ConsoleBillNotPast => "只能下载已经结束的一天的账单。今天的账单明天 00:05 后可下载。", "Only days that are over have bills. Today's can be downloaded from 00:05 tomorrow.";
    ConsoleBillTooOld => "账单只保留三个月，请选择 {earliest} 或之后的日期。", "Bills are kept for three months: pick {earliest} or later.";
    ConsoleBillNotReady => "昨天的账单正在生成，请几分钟后再试。", "Yesterday's bill is being made. Try again in a few minutes.";
    ConsoleBillBadDay => "请选择日期，格式如 2026-01-31。", "Pick a day, such as 2026-01-31.";
    ConsoleStaffActions => "操作", "Actions";
    ConsoleRemoveStaff => "移除 {name}", "Remove {name}";
    ConsoleEndSessions => "让 {name} 退出登录", "Log {name} out";
    ConsoleStaffRemoved => "已移除 {name}，TA 的登录已全部结束。", "{name} was removed and logged out everywhere.";
    ConsoleSessionsEnded => "{name} 的所有登录已结束，需要重新登录。", "{name} was logged out everywhere and must log in again.";
    ConsoleStaffNotYours => "店长只能管理本店的收银员。要移除店长，请联系平台。", "Managers manage their shop's cashiers only. To remove a manager, ask the platform.";
    ConsoleTabSettings => "API 设置", "API settings";
    ConsoleSettingsTitle => "API 设置", "API settings";
    ConsoleMchid => "商户号", "Merchant no.";
    ConsoleKeySerial => "商户 API 证书序列号", "API key serial no.";
    ConsoleKeyModeLabel => "平台验签方式", "Platform key mode";
    ConsoleKeyModePublicKey => "微信支付公钥", "Platform public key";
    ConsoleKeyModeCertificate => "平台证书", "Platform certificate";
    ConsoleNotifyUrlLabel => "支付通知地址（notify_url，可不填）", "Notify URL (notify_url, optional)";
    ConsoleH5DomainsLabel => "H5 支付域名（每行一个，最多 {max} 个）", "H5 payment domains (one a line, at most {max})";
    ConsoleBadKeyMode => "请选择平台验签方式：微信支付公钥或平台证书。", "Choose a platform key mode: public key or certificate.";
    ConsoleSaveSettings => "保存设置", "Save settings";
    ConsoleSettingsSaved => "设置已保存。新的通知地址会用于之后的通知。", "Saved. Notifications from now on use the new address.";
    ConsoleBadNotifyUrl => "这个通知地址不能使用（{reason}）。请填写公网可以访问的 http(s) 地址。", "This notify URL cannot be used ({reason}). Enter an http(s) address reachable from the internet.";
    ConsoleBadH5Domain => "H5 域名不正确（{reason}）。请只填写域名，例如 shop.example.com。", "An H5 domain is not right ({reason}). Enter host names only, such as shop.example.com.";
    ConsoleTooManyDomains => "H5 域名最多 {max} 个。", "At most {max} H5 domains.";
    ConsoleRotateKeyTitle => "更换商户 API 密钥", "Replace the API key";
    ConsoleRotateKeyHint => "在你的服务器上生成新的 RSA 密钥对（2048 位或以上），把公钥 PEM 粘贴到这里，私钥只留在你的服务器上。更换后，用旧密钥签名的请求会被拒绝。", "Make a new RSA key pair (2048 bits or more) on your server and paste its public key PEM here; the private key stays on your server. Requests signed with the old key are refused from then on.";
    ConsolePublicKeyLabel => "新的公钥 PEM（-----BEGIN PUBLIC KEY-----）", "New public key PEM (-----BEGIN PUBLIC KEY-----)";
    ConsoleRotateKey => "更换密钥", "Replace the key";
    ConsoleBadPem => "这不是有效的 RSA 公钥 PEM（需要 2048 位或以上）。请粘贴完整的公钥，包括 BEGIN 和 END 两行。", "This is not an RSA public key PEM of 2048 bits or more. Paste the whole key, BEGIN and END lines included.";
    ConsoleKeyRotated => "密钥已更换。新的证书序列号是 {serial}，请在你的服务器上改用新的私钥和这个序列号。", "The key was replaced. Its serial no. is {serial}: use the new private key and this serial on your server.";
    ConsoleCashiersOnlyHint => "店长在这里只能添加收银员；添加店长请联系平台。", "Here a manager adds cashiers only; to add a manager, ask the platform.";
    ConsoleTabStand => "收款台卡", "Code stand";
    ConsoleStandTitle => "收款码台卡", "Collection code stand";
    ConsoleStandIntro => "把台卡打印出来放在收银台：顾客扫码后自己输入金额付款，钱直接进入本店账户。PDF 为 A6 大小，放大打印也清晰。", "Print the stand and put it by the till: customers scan it, type the amount and pay the shop. The PDF is A6 and stays sharp at any print size.";
    ConsoleStandPay => "扫码付款", "Scan to pay";
    ConsoleStandQrAlt => "本店的收款码", "The shop's collection code";
    ConsoleStandHint => "扫码后输入金额付款", "Scan, then type the amount to pay";
    ConsoleStandPdf => "下载 PDF（A6）", "Download the PDF (A6)";
    ConsoleStandPng => "下载图片（PNG）", "Download an image (PNG)";
    ConsoleStandPngFailed => "这个浏览器无法生成图片，请下载 PDF。", "This browser cannot make the image: download the PDF.";

    // The operator console (ops pages): merchants, users, terminals and alarms, notifications, the ledger.
    OpsTitle => "平台运营台", "Operator console";
    OpsLoginTitle => "登录平台运营台", "Log in to the operator console";
    OpsLoginHint => "请输入管理令牌：服务器数据目录中 admin.token 文件的内容。", "Enter the admin token: the contents of admin.token in the server's data directory.";
    OpsTokenLabel => "管理令牌", "Admin token";
    OpsWrongToken => "令牌不正确（还可以再试 {n} 次）。请从 admin.token 复制完整的令牌后重试。", "Wrong token ({n} tries left). Copy the whole token from admin.token and try again.";
    OpsLocked => "错误次数过多，此地址已被锁定至 {until}。请届时再试，或在服务器上使用命令行。", "Too many wrong tokens: this address is locked out until {until}. Try again then, or use the command line on the server.";
    OpsTabMerchants => "商户", "Merchants";
    OpsTabUsers => "用户", "Users";
    OpsTabTransit => "交通", "Transit";
    OpsTabNotifications => "通知", "Notifications";
    OpsTabLedger => "账本", "Ledger";
    OpsTabClock => "时钟", "Clock";
    OpsSandbox => "沙箱模式", "Sandbox mode";
    OpsNewestOnly => "只显示最新的 {n} 条。", "Only the newest {n} are shown.";
    OpsNone => "无", "None";
    OpsMerchantsTitle => "商户", "Merchants";
    OpsNoMerchants => "还没有商户。可以在服务器上用 saoma merchant create 创建。", "No merchants yet. Create one on the server with saoma merchant create.";
    OpsMchid => "商户号", "Merchant ID";
    OpsCreated => "创建时间", "Created";
    OpsKeyMode => "平台密钥模式", "Platform key mode";
    OpsKeyModePublicKey => "平台公钥", "Platform public key";
    OpsKeyModeCertificate => "平台证书", "Platform certificate";
    OpsTakingsToday => "今日收款", "Today's takings";
    OpsTakingsValue => "{amount}（{n} 笔）", "{amount} ({n} payments)";
    OpsNotifyUrl => "通知地址", "notify_url";
    OpsFailingLink => "{n} 条通知发送失败，查看", "{n} notifications failing: see them";
    OpsUsersTitle => "用户", "Users";
    OpsUsersHint => "手机号只显示前三位和后四位，银行卡只显示张数。", "Phones show only their first three and last four digits, bank cards only how many.";
    OpsNoUsers => "还没有用户。", "No users yet.";
    OpsPinState => "支付密码", "Payment PIN";
    OpsPinNotSet => "未设置", "Not set";
    OpsPinSet => "已设置", "Set";
    OpsPinLocked => "已锁定至 {until}", "Locked until {until}";
    OpsBalance => "余额", "Balance";
    OpsCards => "银行卡", "Bank cards";
    OpsCardCount => "{n} 张", "{n}";
    OpsTerminalsTitle => "闸机", "Gates";
    OpsNoTerminals => "还没有登记的闸机。", "No gates registered yet.";
    OpsTerminal => "闸机 {id} · {name}", "Gate {id} · {name}";
    OpsScopeStop => "运营方 {scope} · 站点 {stop}", "Operator {scope} · stop {stop}";
    OpsRecords => "已上传记录", "Records uploaded";
    OpsMissing => "缺失序号", "Missing sequences";
    OpsLastUpload => "最近上传", "Last upload";
    OpsNever => "从未", "Never";
    OpsAlarmCount => "告警数", "Alarms";
    OpsAlarmsTitle => "告警", "Alarms";
    OpsAlarmsHint => "克隆的乘车码只扣一次费，该卡已被列入黑名单，直到被复制的凭证过期。", "A cloned code is charged once, and its card is blacklisted until the copied credential expires.";
    OpsNoAlarms => "没有告警。", "No alarms.";
    OpsAlarmClone => "克隆：同一乘车码在两个闸机使用", "Clone: one ride code used at two gates";
    OpsAlarmConflict => "序号冲突：同一序号上传了不同内容", "Sequence conflict: a sequence uploaded again with other content";
    OpsCard => "交通卡", "Transit card";
    OpsCardTail => "尾号 {tail}", "ending {tail}";
    OpsTime => "时间", "Time";
    OpsGate => "闸机", "Gate";
    OpsDetail => "详情", "Detail";
    OpsNotificationsTitle => "发送失败的通知", "Notifications that keep failing";
    OpsNotificationsHint => "这些通知已发送，但商户的服务器没有接收（没有返回 2xx）。请联系商户检查通知地址。", "These were sent, but the merchant's server did not accept them (no 2xx answer). Ask the merchant to check its notify_url.";
    OpsFilterMerchant => "按商户号筛选（可不填）", "Filter by merchant ID (optional)";
    OpsFilter => "筛选", "Filter";
    OpsNoFailing => "没有发送失败的通知。", "No failing notifications.";
    OpsMerchant => "商户", "Merchant";
    OpsOutTradeNo => "商户单号", "Merchant order no.";
    OpsEvent => "事件", "Event";
    OpsAttempts => "尝试次数", "Attempts";
    OpsLastError => "最近错误", "Last error";
    OpsHttpStatus => "对方返回 HTTP {status}", "Answered HTTP {status}";
    OpsNextRetry => "下次重试", "Next retry";
    OpsGaveUp => "已停止重试", "Retries used up";
    OpsLedgerTitle => "账本检查", "Ledger check";
    OpsLedgerHint => "检查每个币种借贷相等、每个账户的余额等于其转账之和、没有账户超出限额。", "Checks that debits equal credits in every currency, that every account's balances equal the sums of its transfers, and that no account breaks its limits.";
    OpsLedgerNever => "还没有运行过检查。请点击下方按钮运行。", "The check has not run yet. Run it with the button below.";
    OpsLedgerClean => "平衡", "Balanced";
    OpsLedgerUnclean => "不平衡：发现 {n} 处问题", "Unbalanced: {n} violations";
    OpsLedgerCheckedAt => "检查时间", "Checked at";
    OpsLedgerCounts => "账户与转账", "Accounts and transfers";
    OpsLedgerCountsValue => "{accounts} 个账户，{transfers} 笔转账（{pending} 笔待定）", "{accounts} accounts, {transfers} transfers ({pending} pending)";
    OpsLedgerTotals => "借方 {debits} · 贷方 {credits}（待定 {dp} / {cp}）", "Debits {debits} · credits {credits} (pending {dp} / {cp})";
    OpsLedgerViolations => "问题（最多显示 5 条）", "Violations (at most 5 shown)";
    OpsLedgerRun => "立即运行检查", "Run the check now";
    OpsClockTitle => "业务时钟", "Business clock";
    OpsClockNow => "当前业务时间（北京时间）", "Business time now (China time)";
    OpsClockReal => "服务器按真实时间运行（不是沙箱模式），时钟不能调整。", "The server runs on real time (not in sandbox mode): the clock cannot be moved.";
    OpsClockSandbox => "沙箱模式：业务时钟比真实时间快 {secs} 秒。时钟只能向前调。", "Sandbox mode: the business clock is {secs} seconds ahead of real time. It only moves forward.";
    OpsClockAmount => "向前调整", "Move forward by";
    OpsClockUnit => "单位", "Unit";
    OpsUnitSeconds => "秒", "seconds";
    OpsUnitMinutes => "分钟", "minutes";
    OpsUnitHours => "小时", "hours";
    OpsUnitDays => "天", "days";
    OpsClockAdvance => "调整时钟", "Move the clock";
    OpsClockMoved => "时钟已向前调整 {secs} 秒。", "The clock moved forward {secs} seconds.";
    OpsClockBad => "请输入一个正整数，最多十年。", "Enter a whole number above zero, at most ten years.";

    // The shop (shop/): products, the shop page, product cards, buying, the inbox and messages.
    ShopTabProducts => "商品", "Products";
    ShopTabInbox => "店铺订单", "Shop orders";
    ShopProductsTitle => "商品", "Products";
    ShopNoProducts => "还没有商品。用下面的表单上架第一件商品。", "No products yet. List your first one with the form below.";
    ShopAddTitle => "上架新商品", "List a new product";
    ShopNameLabel => "商品名称", "Product name";
    ShopPriceLabel => "价格（元）", "Price (yuan)";
    ShopStockLabel => "库存（件）", "Stock (items)";
    ShopPictureLabel => "商品图片（PNG 或 JPEG，不超过 1 MB，可不传）", "Picture (PNG or JPEG, at most 1 MB, optional)";
    ShopAddButton => "上架", "List product";
    ShopAdded => "已上架 {name}。顾客现在可以在店铺页面看到并购买。", "{name} is listed. Customers can see and buy it on your shop page now.";
    ShopSave => "保存价格和库存", "Save price and stock";
    ShopSaved => "已保存 {name} 的价格和库存。", "The price and stock of {name} are saved.";
    ShopHide => "下架", "Take down";
    ShopShow => "重新上架", "List again";
    ShopHidden => "已下架 {name}：顾客看不到它，也不能再为它付款。", "{name} is taken down: customers no longer see it or pay for it.";
    ShopShown => "已重新上架 {name}。", "{name} is listed again.";
    ShopHiddenMark => "已下架", "Taken down";
    ShopViewShop => "打开店铺页面（可分享给顾客）", "Open the shop page (to share with customers)";
    ShopBadName => "请填写商品名称（最多 {max} 个字）。", "Enter a product name (at most {max} characters).";
    ShopBadStock => "库存请填写 0 到 {max} 之间的整数。", "Enter the stock as a whole number from 0 to {max}.";
    ShopBadPicture => "图片只能是 PNG 或 JPEG 格式，请换一张。", "The picture must be a PNG or JPEG. Choose another one.";
    ShopPictureTooLarge => "图片不能超过 1 MB，请压缩后再上传。", "The picture must be at most 1 MB. Make it smaller and upload it again.";
    ShopBadForm => "表单没有正确提交，请刷新页面后重试。", "The form did not arrive whole. Reload the page and try again.";
    ShopNoProductTitle => "没有这件商品", "No such product";
    ShopNoProduct => "这件商品不存在或已下架。请回到店铺看看其他商品。", "This product does not exist or was taken down. See the shop's other products.";
    ShopTitle => "{shop} 的店铺", "{shop}'s shop";
    ShopEmpty => "这家店还没有上架商品，请稍后再来。", "This shop has no products yet. Come back later.";
    ShopStockLeft => "库存 {n} 件", "{n} in stock";
    ShopSoldOutTitle => "已售罄", "Sold out";
    ShopSoldOut => "已售罄：这件商品已经卖完或已下架，你没有被扣款。可以回到店铺看看其他商品。", "Sold out: this product is gone or was taken down, and you were not charged. See the shop's other products.";
    ShopBackToShop => "返回店铺", "Back to the shop";
    ShopQtyLabel => "购买数量", "Quantity";
    ShopBuy => "立即购买", "Buy now";
    ShopBadQty => "购买数量请填写 1 到 {max} 之间的整数。", "Enter a quantity from 1 to {max}.";
    ShopNotEnoughStock => "库存只剩 {n} 件，请减少购买数量。", "Only {n} left: choose a smaller quantity.";
    ShopTooMuch => "总价超过了单笔付款上限，请减少购买数量。", "The total is more than one payment may be: choose a smaller quantity.";
    ShopPriceChanged => "商品价格刚刚变了，请看看新价格后再购买。", "The price just changed. Check the new price, then buy.";
    ShopFormUsed => "这个页面已经下过单了。请刷新页面后再购买。", "This page placed an order already. Reload it to buy again.";
    ShopNoAppid => "这家店暂时不能收款，请稍后再试。", "This shop cannot take payments right now. Try again later.";
    ShopShareTitle => "分享这件商品", "Share this product";
    ShopShareLabel => "商品链接", "Product link";
    ShopQrAlt => "这件商品的二维码", "QR code of this product";
    ShopShareHint => "复制链接发给朋友，或让朋友用手机扫码打开。", "Copy the link to a friend, or let them scan the code with a phone.";
    ShopInboxTitle => "店铺订单", "Shop orders";
    ShopInboxHint => "顾客付款后的店铺订单会出现在这里。你可以给买家发消息，TA 会在钱包的“消息”里看到。", "Paid shop orders show here. You can write to a buyer; they read it under Messages in their wallet.";
    ShopInboxEmpty => "还没有已付款的店铺订单。", "No paid shop orders yet.";
    ShopBuyerLabel => "买家", "Buyer";
    ShopPaidAtLabel => "付款时间", "Paid";
    ShopMessageLabel => "给买家的消息", "Message to the buyer";
    ShopSend => "发送消息", "Send message";
    ShopSent => "消息已发送，买家会在钱包的“消息”里看到。", "Sent: the buyer will see it under Messages in their wallet.";
    ShopBadMessage => "请填写消息（最多 {max} 个字）。", "Write a message (at most {max} characters).";
    ShopNoOrder => "没有这笔已付款的店铺订单。", "There is no such paid shop order.";
    ShopMessagesTitle => "消息", "Messages";
    ShopUnread => "{n} 条未读", "{n} unread";
    ShopNoMessages => "还没有消息。你在店铺买过东西后，商家发给你的消息会显示在这里。", "No messages yet. When a shop you bought from writes to you, it shows here.";
    ShopMessageFrom => "{shop} · {product}", "{shop} · {product}";
    ShopNew => "新", "New";

    // Paying a scanned code in the wallet (payments/pages.rs), and the login fixes.
    ScanTitle => "扫一扫付款", "Scan to pay";
    ScanHint => "把收款码二维码里的内容粘贴到这里，或选一张二维码照片。我们只打开本平台的付款页面。", "Paste what a payment QR code holds, or pick a photo of the code. Only this platform's payment pages are opened.";
    ScanTextLabel => "二维码内容", "What the QR code holds";
    ScanGo => "去付款", "Continue to pay";
    ScanPhotoLabel => "从相册选择二维码照片", "Pick a photo of the QR code";
    ScanPhotoReading => "正在识别照片中的二维码……", "Reading the QR code in the photo…";
    ScanPhotoUnreadable => "照片里没有找到能识别的二维码。请让二维码占满画面、对准焦点后再拍一张，或粘贴二维码内容。", "No readable QR code was found in the photo. Take another with the code filling the picture and in focus, or paste what it holds.";
    ScanEmpty => "请先粘贴二维码内容，或选一张二维码照片。", "Paste what the QR code holds first, or pick a photo of it.";
    ScanNoOrder => "没有找到这个二维码对应的订单。它可能已失效，请让商家重新生成收款码。", "No order matches this code. It may have expired: ask the merchant for a new one.";
    ScanIsPayCode => "这是别人的付款码，不能用来付款。付款时请扫描商家的收款码，或出示你自己的付款码。", "This is someone's payment code, which cannot be paid. Scan the merchant's code instead, or show your own payment code.";
    ScanOtherSite => "这个二维码指向其他网站，为了你的资金安全，我们不会打开它。请只扫描本平台商家的收款码。", "This QR code leads to another website; to keep your money safe it is not opened. Scan only this platform's merchant codes.";
    ScanUnknown => "这不是能付款的二维码。请扫描商家的收款码或付款链接。", "This is not a code you can pay. Scan the merchant's payment code or link.";
    ConsoleCodeSent => "如果 {phone} 是店员的手机号，验证码已发送，5 分钟内有效。没有收到？请确认手机号，或联系店长添加你。", "If {phone} is a staff member's number, we sent it a code, valid for 5 minutes. Nothing came? Check the number, or ask your manager to add you.";
    ScanLogIn => "登录已过期，请重新登录后再选择照片。", "Your login expired. Log in again, then pick the photo.";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language() {
        for (h, want) in [
            ("en-US,en;q=0.9", Some(Lang::En)),
            ("zh-CN,zh;q=0.9,en;q=0.8", Some(Lang::Zh)),
            ("en;q=0.5, zh;q=0.8", Some(Lang::Zh)),
            ("en;q=0.8, zh;q=0.5", Some(Lang::En)),
            ("fr-FR, en;q=0.3", Some(Lang::En)),
            ("zh-TW, en", Some(Lang::Zh)),
            ("en, zh", Some(Lang::En)),
            ("de, fr", None),
            ("en;q=0", None),
            ("", None),
        ] {
            assert_eq!(Lang::from_accept_language(h), want, "{h}");
        }
        assert_eq!(quality("0.9"), 900);
        assert_eq!(quality("0.05"), 50);
        assert_eq!(quality("1.0"), 1000);
    }

    #[test]
    fn the_language_of_a_request() {
        let mut h = HeaderMap::new();
        assert_eq!(Lang::of(&h, None), Lang::Zh, "Chinese unless asked otherwise");
        h.insert(header::ACCEPT_LANGUAGE, "en-US,en;q=0.9".parse().unwrap());
        assert_eq!(Lang::of(&h, None), Lang::En);
        h.insert(header::COOKIE, "a=b; saoma_lang=zh".parse().unwrap());
        assert_eq!(Lang::of(&h, None), Lang::Zh, "an explicit choice beats the browser's");
        assert_eq!(Lang::of(&h, Some("en")), Lang::En, "?lang= beats the cookie");
        assert_eq!(Lang::of(&h, Some("xx")), Lang::Zh);
    }

    /// Both languages of every text take the same arguments, and no text is missing.
    #[test]
    fn catalogue_is_complete() {
        let names = |s: &str| {
            let mut v: Vec<String> = s.split('{').skip(1).filter_map(|p| p.split_once('}').map(|(n, _)| n.to_string())).collect();
            v.sort();
            v
        };
        for m in Msg::ALL {
            let (zh, en) = m.pair();
            assert!(!zh.trim().is_empty() && !en.trim().is_empty(), "{m:?}");
            assert_eq!(names(zh), names(en), "{m:?}");
        }
        assert_eq!(Lang::Zh.fill(Msg::PayButton, &[("amount", "¥12.50")]), "确认支付 ¥12.50");
        assert_eq!(Lang::En.html(Msg::PayingFrom, &[("phone", "<b>x</b>")]), "Paying from the wallet of <b>x</b>");
        assert_eq!(Lang::Zh.time(0), "1970-01-01 08:00（北京时间）");
    }
}
