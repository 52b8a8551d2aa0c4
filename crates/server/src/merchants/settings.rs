//! What a merchant changes itself (the console's API settings): its API key — a new public key, under a
//! new serial, the old one refused from then on — its notify_url, its H5 domains and the platform key
//! mode it verifies with. Each change is one job; then this process's cache forgets the merchant, and
//! other processes re-read it within [`super::CACHE_SECS`].

use super::{h5_domain, Merchants};
use crate::platform::KeyMode;
use crate::App;
use saoma_store::StoreError;
use saoma_wechatpay::keys::PublicKey;

/// The most H5 domains a merchant registers (as the operator's creation).
pub const MAX_H5_DOMAINS: usize = 5;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SettingsError {
    /// Not an RSA public key PEM of 2048 bits or more.
    BadKey,
    /// The notify_url, with the reason.
    BadNotifyUrl(String),
    /// An H5 domain, with the reason.
    BadDomain(String),
    TooManyDomains,
    NoSuchMerchant,
    Store(String),
}

impl From<StoreError> for SettingsError {
    fn from(e: StoreError) -> Self {
        SettingsError::Store(e.to_string())
    }
}

/// Replaces the merchant's API public key by `pem` under a new serial (returned): requests signed with
/// the old key are refused from now on (within [`super::CACHE_SECS`] in other processes).
pub async fn set_public_key(app: &App, mchid: &str, pem: &str) -> Result<String, SettingsError> {
    let key = PublicKey::from_pem(pem.trim()).map_err(|_| SettingsError::BadKey)?;
    let pem = key.to_pem().map_err(|_| SettingsError::BadKey)?;
    let serial = saoma_wechatpay::cert::random_serial().map_err(|e| StoreError::Io(e.to_string()))?;
    let (m, s) = (mchid.to_string(), serial.clone());
    let changed = app
        .store
        .transact(move |tx| {
            let sql = "UPDATE merchants SET public_key = $1, serial_no = $2 WHERE mchid = $3";
            let n = tx.execute(sql, &[pem.into(), s.into(), m.as_str().into()])?;
            Ok(Ok::<_, ()>(n))
        })
        .await?
        .map_err(|()| StoreError::Corrupt("key".into()))?;
    app.part::<Merchants>().forget(mchid);
    if changed == 0 {
        return Err(SettingsError::NoSuchMerchant);
    }
    Ok(serial)
}

/// What the console's settings form sets.
pub struct Settings {
    pub notify_url: Option<String>,
    pub h5_domains: Vec<String>,
    pub key_mode: KeyMode,
}

/// Sets the merchant's notify_url (checked as the APIs check one: its form, and where it may send),
/// its H5 domains and its platform key mode.
pub async fn set(app: &App, mchid: &str, s: Settings) -> Result<(), SettingsError> {
    let notify_url = s.notify_url.map(|u| u.trim().to_string()).filter(|u| !u.is_empty());
    if let Some(u) = &notify_url {
        saoma_core::order::check_notify_url(u).map_err(|e| SettingsError::BadNotifyUrl(e.to_string()))?;
        crate::notifications::check_url(app, u).await.map_err(SettingsError::BadNotifyUrl)?;
    }
    let mut domains: Vec<String> = Vec::new();
    for d in s.h5_domains.iter().map(|d| d.trim()).filter(|d| !d.is_empty()) {
        let d = h5_domain(d).map_err(SettingsError::BadDomain)?;
        if !domains.contains(&d) {
            domains.push(d);
        }
    }
    if domains.len() > MAX_H5_DOMAINS {
        return Err(SettingsError::TooManyDomains);
    }
    let (m, mode, domains) = (mchid.to_string(), s.key_mode, domains.join(","));
    let changed = app
        .store
        .transact(move |tx| {
            let n = tx.execute(
                "UPDATE merchants SET notify_url = $1, h5_domains = $2, platform_key_mode = $3 WHERE mchid = $4",
                &[notify_url.into(), domains.into(), mode.as_str().into(), m.as_str().into()],
            )?;
            Ok(Ok::<_, ()>(n))
        })
        .await?
        .map_err(|()| StoreError::Corrupt("settings".into()))?;
    app.part::<Merchants>().forget(mchid);
    if changed == 0 {
        return Err(SettingsError::NoSuchMerchant);
    }
    Ok(())
}
