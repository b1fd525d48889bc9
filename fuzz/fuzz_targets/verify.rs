//! Arbitrary header lists, bodies and clocks through `Verifier::verify_at`: it must never
//! panic, and whatever it accepts must carry a signature made with the secret.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;
use webhook_kit::{Secret, Signer, Verifier};

static SECRET: LazyLock<Secret> = LazyLock::new(|| {
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        .parse()
        .unwrap_or_else(|_| unreachable!("a valid test secret"))
});

fuzz_target!(|data: &[u8]| {
    // Layout: 8 bytes of clock, then header lines "name:value" separated by '\n' up to an
    // empty line, then the body.
    let Some((clock, rest)) = data.split_first_chunk::<8>() else {
        return;
    };
    let now = i64::from_le_bytes(*clock);
    let (head, body) = match rest.windows(2).position(|w| w == b"\n\n") {
        Some(at) => (&rest[..at], &rest[at + 2..]),
        None => (rest, &[][..]),
    };
    let headers: Vec<(String, Vec<u8>)> = head
        .split(|&b| b == b'\n')
        .filter_map(|line| {
            let colon = line.iter().position(|&b| b == b':')?;
            let name = String::from_utf8(line[..colon].to_vec()).ok()?;
            Some((name, line[colon + 1..].to_vec()))
        })
        .collect();
    let verifier = Verifier::from_secret(&SECRET);
    let result = verifier.verify_at(&headers, body, now);
    if result.is_ok() {
        // Accepted: the id and timestamp were valid, so signing them again must reproduce a
        // signature that the header carried.
        let value = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default()
        };
        let timestamp: i64 = value("webhook-timestamp").parse().unwrap_or(-1);
        let expected = Signer::from_secret(&SECRET)
            .sign(&value("webhook-id"), timestamp, body)
            .unwrap_or_default();
        assert!(value("webhook-signature").split(' ').any(|t| t == expected));
    }
    // Signing what was received (when it is signable) always verifies.
    if let Ok(signed) = Signer::from_secret(&SECRET).headers("msg_fuzz", now.max(0), body) {
        assert!(verifier.verify_at(&signed, body, now.max(0)).is_ok());
    }
});
