//! Arbitrary text through the URL rule and the default destination policy: never a panic,
//! and whatever the default policy accepts is an https URL within the length limit that a
//! browser-grade parser sees with a domain host (no IP address, no credentials) without an
//! empty label (a single trailing dot aside).
#![no_main]

use libfuzzer_sys::fuzz_target;
use webhook_kit::{DestinationPolicy, MAX_URL_LEN, WebhookUrl};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(url) = DestinationPolicy::default().parse(text) {
        assert!(url.as_str().starts_with("https://"));
        assert!(url.as_str().len() <= MAX_URL_LEN);
        let parsed = url::Url::parse(url.as_str()).unwrap_or_else(|e| panic!("{e}: {text:?}"));
        let Some(url::Host::Domain(host)) = parsed.host() else {
            panic!("not a domain host: {text:?}");
        };
        let labels = host.strip_suffix('.').unwrap_or(host);
        assert!(!labels.split('.').any(str::is_empty), "{text:?}");
        assert!(
            parsed.username().is_empty() && parsed.password().is_none(),
            "{text:?}"
        );
    }
    if let Ok(url) = text.parse::<WebhookUrl>() {
        assert_eq!(url.as_str(), text);
    }
});
