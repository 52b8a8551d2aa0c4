//! Ride codes rendered as QR codes decode back to the same bytes: real codes of each suite and random
//! 196/197-byte payloads, drawn by the one QR module and read by an independent decoder (`rqrr`,
//! binary mode through `decode_to`).

use saoma_ridecode::{CredentialTerms, DeviceKeyPair, IssuerKeyPair, RideCode, Suite};
use saoma_server::http::web::qr::Matrix;

fn decode(m: &Matrix) -> Vec<u8> {
    let scale = 4;
    let size = m.size() * scale;
    let quiet = (m.size() - m.width) / 2;
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(size, size, |x, y| {
        let (mx, my) = ((x / scale).checked_sub(quiet), (y / scale).checked_sub(quiet));
        match (mx, my) {
            (Some(mx), Some(my)) if mx < m.width && my < m.width && m.is_dark(mx, my) => 0,
            _ => 255,
        }
    });
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one code in the picture");
    let mut out = Vec::new();
    grids[0].decode_to(&mut out).expect("decodes");
    out
}

#[test]
fn real_ride_codes_round_trip() {
    for (i, suite) in Suite::ALL.into_iter().enumerate() {
        let issuer = IssuerKeyPair::from_seed(suite, &[1 + i as u8; 32], 7, 1_700_000_000, 1_800_000_000).unwrap();
        let device = DeviceKeyPair::from_seed(suite, &[9 + i as u8; 32]).unwrap();
        let terms = CredentialTerms { account_id: 42, sequence: 3, not_before: 1_750_000_000, not_after: 1_750_090_000, max_fare: 500, max_uses: 8, class_flags: 0, scope: 21 };
        let cred = issuer.issue(&terms, &device.public_key()).unwrap();
        let code = RideCode::generate(&cred, &device, 1_750_000_100, 1).unwrap().to_bytes();
        let m = Matrix::encode_bytes(&code).unwrap();
        assert!(m.width <= 57 + 4, "{:?}: version 10 at level M or close ({} modules)", suite, m.width);
        assert_eq!(decode(&m), code, "{suite:?}");
    }
}

#[test]
fn random_payloads_round_trip() {
    // A small deterministic generator: the same payloads on every run.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for round in 0..24 {
        let len = if round % 2 == 0 { 196 } else { 197 };
        let payload: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        assert_eq!(decode(&Matrix::encode_bytes(&payload).unwrap()), payload, "round {round}");
    }
}
