//! Clip keys: stable across runs, sensitive to every field that changes a
//! clip, blind to the ones that do not.

mod common;

use common::request;
use slidecast_core::deck::Rgb;
use slidecast_core::ClipRequest;
use slidecast_store::{provider_format_version, ClipKey, StoreError};

#[test]
fn key_is_stable_across_runs_and_versions() {
    // A golden value, checked independently with `sha256sum` over the
    // canonical form (one `name=len:value` line per field). If it changes,
    // every user's cache is invalidated: change it only together with the
    // key scheme version.
    let key = ClipKey::for_request(&request("Welcome to the quarterly update."));
    assert_eq!(
        key.as_str(),
        "8e7cbd8cdb17f9206ef898406171930d70ef6daf2d8cb86c0fc120e4f2efe60b"
    );
}

#[test]
fn key_is_64_lowercase_hex_and_round_trips() {
    let key = ClipKey::for_request(&request("Hello."));
    assert_eq!(key.as_str().len(), 64);
    assert!(key
        .as_str()
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    let parsed: ClipKey = key.as_str().parse().unwrap();
    assert_eq!(parsed, key);
    assert_eq!(key.short().len(), 12);
    let json = serde_json::to_string(&key).unwrap();
    assert_eq!(serde_json::from_str::<ClipKey>(&json).unwrap(), key);
}

#[test]
fn malformed_keys_are_rejected() {
    for bad in ["", "abc", &"g".repeat(64), &"A".repeat(64), &"a".repeat(65)] {
        assert!(
            matches!(bad.parse::<ClipKey>(), Err(StoreError::BadKey(_))),
            "{bad:?} accepted"
        );
    }
    assert!(serde_json::from_str::<ClipKey>("\"nope\"").is_err());
}

#[test]
fn slide_number_and_title_do_not_change_the_key() {
    let base = request("Same words.");
    let moved = ClipRequest {
        slide: 17,
        title: "Another deck entirely".into(),
        ..base.clone()
    };
    assert_eq!(ClipKey::for_request(&base), ClipKey::for_request(&moved));
}

#[test]
fn every_clip_field_changes_the_key() {
    let base = request("Same words.");
    let variants: Vec<(&str, ClipRequest)> = vec![
        (
            "provider",
            ClipRequest {
                provider: "local".into(),
                ..base.clone()
            },
        ),
        (
            "script",
            ClipRequest {
                script: "Same words!".into(),
                ..base.clone()
            },
        ),
        (
            "script whitespace",
            ClipRequest {
                script: "Same  words.".into(),
                ..base.clone()
            },
        ),
        (
            "avatar",
            ClipRequest {
                avatar: "gia.business".into(),
                ..base.clone()
            },
        ),
        (
            "voice",
            ClipRequest {
                voice: Some("en-GB-SoniaNeural".into()),
                ..base.clone()
            },
        ),
        (
            "voice absent",
            ClipRequest {
                voice: None,
                ..base.clone()
            },
        ),
        (
            "voice empty",
            ClipRequest {
                voice: Some(String::new()),
                ..base.clone()
            },
        ),
        (
            "voice provider",
            ClipRequest {
                voice_provider: Some("elevenlabs".into()),
                ..base.clone()
            },
        ),
        (
            "language",
            ClipRequest {
                language: Some("German".into()),
                ..base.clone()
            },
        ),
        (
            "background",
            ClipRequest {
                avatar_background: Rgb::new(0, 0, 255),
                ..base.clone()
            },
        ),
        (
            "canvas width",
            ClipRequest {
                canvas: (578, 324),
                ..base.clone()
            },
        ),
        (
            "canvas height",
            ClipRequest {
                canvas: (576, 326),
                ..base.clone()
            },
        ),
    ];
    let base_key = ClipKey::for_request(&base);
    let mut seen = vec![base_key.clone()];
    for (field, variant) in &variants {
        let key = ClipKey::for_request(variant);
        assert_ne!(key, base_key, "changing {field} kept the key");
        assert!(
            !seen.contains(&key),
            "changing {field} collided with another variant"
        );
        seen.push(key);
    }
}

#[test]
fn absent_and_empty_options_differ_from_each_other() {
    let none = ClipRequest {
        voice: None,
        ..request("x")
    };
    let empty = ClipRequest {
        voice: Some(String::new()),
        ..request("x")
    };
    assert_ne!(ClipKey::for_request(&none), ClipKey::for_request(&empty));
}

#[test]
fn field_boundaries_cannot_be_forged_by_the_script() {
    // Moving text between adjacent string fields must change the key even
    // though the concatenation is the same.
    let a = ClipRequest {
        script: "ab".into(),
        avatar: "c".into(),
        ..request("")
    };
    let b = ClipRequest {
        script: "a".into(),
        avatar: "bc".into(),
        ..request("")
    };
    assert_ne!(ClipKey::for_request(&a), ClipKey::for_request(&b));
}

#[test]
fn provider_format_version_changes_the_key() {
    let r = request("Versioned.");
    assert_eq!(provider_format_version("elai"), 1);
    assert_eq!(
        ClipKey::for_request(&r),
        ClipKey::with_format_version(&r, provider_format_version("elai"))
    );
    assert_ne!(
        ClipKey::with_format_version(&r, 1),
        ClipKey::with_format_version(&r, 2)
    );
}
