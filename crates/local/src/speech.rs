//! Speech synthesis with espeak-ng, and the deck-to-espeak voice mapping.
//!
//! # Voice mapping
//!
//! The deck's `voice` wins over its `language` when it maps:
//!
//! | deck field                                   | espeak-ng voice |
//! |----------------------------------------------|-----------------|
//! | an espeak voice name (`en-gb`, `de`, `en-us+f3`, lowercase) | passed through |
//! | a vendor voice with a locale (`en-US-AriaNeural`, `de-DE-KatjaNeural`) | the locale's voice (`en-us`, `de`) |
//! | language `English`, `American English`        | `en-us`         |
//! | language `British English`, `English (UK)`    | `en-gb`         |
//! | language `German`, `French`, `Spanish`, `Italian`, `Portuguese`, `Dutch`, ... | `de`, `fr`, `es`, `it`, `pt`, `nl`, ... |
//! | a language code (`de`, `fr-CA`)               | its voice       |
//! | anything else, or nothing                    | `en-us`         |
//!
//! The speaking rate is [`EspeakConfig::words_per_minute`] (default 165).
//! Unless the deck names an espeak voice itself, the avatar's look may add
//! a voice variant (`ava` speaks as `en-us+f3`), see [`voice_for_request`].

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::error::LocalError;

/// The espeak voice used when the deck's fields do not map to one.
pub const DEFAULT_VOICE: &str = "en-us";

/// How to run espeak-ng.
#[derive(Debug, Clone, PartialEq)]
pub struct EspeakConfig {
    /// The program: a name looked up on `PATH`, or a path.
    pub program: PathBuf,
    /// Speaking rate in words per minute (espeak's `-s`).
    pub words_per_minute: u32,
}

impl Default for EspeakConfig {
    fn default() -> Self {
        EspeakConfig {
            program: PathBuf::from("espeak-ng"),
            words_per_minute: 165,
        }
    }
}

impl EspeakConfig {
    /// The program's full path, or [`LocalError::EspeakMissing`] with the
    /// install instructions when it is not there.
    pub fn resolve_program(&self) -> Result<PathBuf, LocalError> {
        let missing = || LocalError::EspeakMissing {
            program: self.program.clone(),
        };
        if self.program.components().count() > 1 || self.program.is_absolute() {
            return if self.program.is_file() {
                Ok(self.program.clone())
            } else {
                Err(missing())
            };
        }
        let path = std::env::var_os("PATH").ok_or_else(missing)?;
        std::env::split_paths(&path)
            .map(|dir| dir.join(&self.program))
            .find(|candidate| candidate.is_file())
            .ok_or_else(missing)
    }

    /// espeak-ng's arguments: WAV on stdout, the text on stdin (never on the
    /// command line, so no script can be read as an option).
    fn args(&self, voice: &str) -> Vec<String> {
        vec![
            "--stdout".into(),
            "-v".into(),
            voice.into(),
            "-s".into(),
            self.words_per_minute.clamp(80, 450).to_string(),
            "--stdin".into(),
        ]
    }
}

/// Mono 16-bit speech as espeak-ng produced it.
#[derive(Debug, Clone, PartialEq)]
pub struct Speech {
    /// Samples per second (espeak-ng: 22050).
    pub sample_rate: u32,
    /// Mono 16-bit samples.
    pub samples: Vec<i16>,
}

impl Speech {
    /// Length of the speech.
    pub fn duration(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.samples.len() as f64 / self.sample_rate as f64)
    }
}

/// The espeak-ng voice for a deck's `voice` and `language` fields (see the
/// [module docs](self) for the table).
pub fn espeak_voice(voice: Option<&str>, language: Option<&str>) -> String {
    if let Some(voice) = voice.map(str::trim).filter(|v| !v.is_empty()) {
        if is_espeak_voice_name(voice) {
            return voice.to_string();
        }
        if let Some(mapped) = voice_from_locale(voice) {
            return mapped;
        }
    }
    if let Some(language) = language.map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(mapped) =
            voice_from_language_name(language).or_else(|| voice_from_locale(language))
        {
            return mapped;
        }
    }
    DEFAULT_VOICE.to_string()
}

/// The espeak-ng voice for a request: [`espeak_voice`] of its voice fields,
/// plus the look's variant (`+f3`, ...) unless the deck named an espeak voice.
pub fn voice_for_request(request: &slidecast_core::ClipRequest) -> String {
    let voice = espeak_voice(request.voice.as_deref(), request.language.as_deref());
    let explicit = request
        .voice
        .as_deref()
        .is_some_and(|v| is_espeak_voice_name(v.trim()));
    match crate::avatar::Look::for_code(&request.avatar).voice_variant {
        Some(variant) if !explicit => format!("{voice}+{variant}"),
        _ => voice,
    }
}

/// espeak voice names are lowercase ASCII like `en-gb`, `de` or `en-us+f3`;
/// vendor voices such as `en-US-AriaNeural` carry capitals.
pub(crate) fn is_espeak_voice_name(voice: &str) -> bool {
    voice.len() <= 24
        && voice
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '+' | '_'))
        && voice.chars().next().is_some_and(|c| c.is_ascii_lowercase())
}

/// `en-US-AriaNeural` -> `en-us`, `fr-CA` -> `fr`, `de` -> `de`.
fn voice_from_locale(text: &str) -> Option<String> {
    let mut parts = text.split(['-', '_']);
    let lang = parts.next()?.to_ascii_lowercase();
    let region = parts.next().unwrap_or("").to_ascii_lowercase();
    if !(2..=3).contains(&lang.len()) || !lang.chars().all(|c| c.is_ascii_lowercase()) {
        return None;
    }
    let voice = match (lang.as_str(), region.as_str()) {
        ("en", "gb" | "uk" | "au" | "nz" | "ie" | "za" | "in") => "en-gb",
        ("en", _) => "en-us",
        ("pt", "br") => "pt-br",
        ("pt", _) => "pt",
        ("es", "es" | "") => "es",
        ("es", _) => "es-419",
        ("zh", _) => "cmn",
        (
            "de" | "fr" | "it" | "nl" | "pl" | "ru" | "sv" | "da" | "fi" | "nb" | "cs" | "el"
            | "tr" | "ja" | "ko" | "hi" | "ar" | "hu" | "ro" | "uk" | "ca" | "id" | "vi",
            _,
        ) => lang.as_str(),
        _ => return None,
    };
    Some(voice.to_string())
}

/// `English` -> `en-us`, `German` -> `de`, ...
fn voice_from_language_name(name: &str) -> Option<String> {
    let name = name.to_ascii_lowercase();
    let british = [
        "british",
        "uk",
        "united kingdom",
        "great britain",
        "australia",
    ];
    let voice = if name.contains("english") {
        if british.iter().any(|b| name.contains(b)) {
            "en-gb"
        } else {
            "en-us"
        }
    } else {
        const NAMES: &[(&str, &str)] = &[
            ("german", "de"),
            ("deutsch", "de"),
            ("french", "fr"),
            ("français", "fr"),
            ("spanish", "es"),
            ("español", "es"),
            ("italian", "it"),
            ("brazilian", "pt-br"),
            ("portuguese", "pt"),
            ("dutch", "nl"),
            ("polish", "pl"),
            ("russian", "ru"),
            ("swedish", "sv"),
            ("danish", "da"),
            ("finnish", "fi"),
            ("norwegian", "nb"),
            ("czech", "cs"),
            ("greek", "el"),
            ("turkish", "tr"),
            ("japanese", "ja"),
            ("korean", "ko"),
            ("chinese", "cmn"),
            ("mandarin", "cmn"),
            ("hindi", "hi"),
            ("arabic", "ar"),
        ];
        NAMES.iter().find(|(n, _)| name.contains(n))?.1
    };
    Some(voice.to_string())
}

/// Speak `script` with espeak-ng, blocking the calling thread.
pub fn synthesize_blocking(
    config: &EspeakConfig,
    script: &str,
    voice: &str,
) -> Result<Speech, LocalError> {
    let program = config.resolve_program()?;
    let script = checked_script(script)?;
    let mut child = std::process::Command::new(&program)
        .args(config.args(voice))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| spawn_error(&program, e))?;
    // Write stdin on its own thread: a long script's WAV fills the stdout pipe
    // while we are still writing, and reading both from one thread deadlocks.
    let mut stdin = child.stdin.take().ok_or_else(|| {
        LocalError::EspeakIo(std::io::Error::other("espeak-ng stdin was not captured"))
    })?;
    let text = script.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let output = child.wait_with_output().map_err(LocalError::EspeakIo)?;
    match writer.join() {
        Ok(Ok(())) => {}
        Ok(Err(e)) if output.status.success() => return Err(LocalError::EspeakIo(e)),
        _ => {}
    }
    finish(output.status, &output.stdout, &output.stderr, voice)
}

/// Speak `script` with espeak-ng on the async runtime (the process runs
/// without blocking a runtime thread).
pub async fn synthesize(
    config: &EspeakConfig,
    script: &str,
    voice: &str,
) -> Result<Speech, LocalError> {
    use tokio::io::AsyncWriteExt;

    let program = config.resolve_program()?;
    let script = checked_script(script)?;
    let mut child = tokio::process::Command::new(&program)
        .args(config.args(voice))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| spawn_error(&program, e))?;
    let mut stdin = child.stdin.take().ok_or_else(|| {
        LocalError::EspeakIo(std::io::Error::other("espeak-ng stdin was not captured"))
    })?;
    let text = script.to_string();
    let writer = tokio::spawn(async move {
        stdin.write_all(text.as_bytes()).await?;
        stdin.shutdown().await
    });
    let output = child
        .wait_with_output()
        .await
        .map_err(LocalError::EspeakIo)?;
    if let Ok(Err(e)) = writer.await {
        if output.status.success() {
            return Err(LocalError::EspeakIo(e));
        }
    }
    finish(output.status, &output.stdout, &output.stderr, voice)
}

fn checked_script(script: &str) -> Result<&str, LocalError> {
    let script = script.trim();
    if script.is_empty() {
        return Err(LocalError::EmptyScript);
    }
    Ok(script)
}

fn spawn_error(program: &Path, e: std::io::Error) -> LocalError {
    if matches!(
        e.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
    ) {
        LocalError::EspeakMissing {
            program: program.to_path_buf(),
        }
    } else {
        LocalError::EspeakIo(e)
    }
}

fn finish(
    status: std::process::ExitStatus,
    stdout: &[u8],
    stderr: &[u8],
    voice: &str,
) -> Result<Speech, LocalError> {
    let stderr = String::from_utf8_lossy(stderr).trim().to_string();
    if !status.success() {
        if stderr.contains("voice does not exist") {
            return Err(LocalError::UnknownVoice {
                voice: voice.to_string(),
                stderr,
            });
        }
        return Err(LocalError::EspeakFailed {
            status: status.to_string(),
            stderr,
        });
    }
    let speech = parse_wav(stdout)?;
    if speech.samples.iter().all(|&s| s.unsigned_abs() < 64) {
        return Err(LocalError::NoSpeech);
    }
    Ok(speech)
}

/// Read a mono 16-bit PCM WAV. espeak-ng writing to a pipe cannot seek back
/// to fill in the sizes, so a `data` chunk larger than the bytes left means
/// "to the end".
pub fn parse_wav(bytes: &[u8]) -> Result<Speech, LocalError> {
    let bad = |m: &str| LocalError::BadWav(m.to_string());
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(bad("no RIFF/WAVE header"));
    }
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let u32_at =
        |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let mut pos = 12;
    let mut format: Option<(u16, u16, u32, u16)> = None;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let size = u32_at(pos + 4) as usize;
        let body = pos + 8;
        let end = body.saturating_add(size).min(bytes.len());
        match id {
            b"fmt " => {
                if end - body < 16 {
                    return Err(bad("short fmt chunk"));
                }
                format = Some((
                    u16_at(body),
                    u16_at(body + 2),
                    u32_at(body + 4),
                    u16_at(body + 14),
                ));
            }
            b"data" => {
                let (tag, channels, rate, bits) = format.ok_or_else(|| bad("data before fmt"))?;
                if tag != 1 || channels != 1 || bits != 16 {
                    return Err(LocalError::BadWav(format!(
                        "expected mono 16-bit PCM, got format {tag}, {channels} channel(s), {bits} bits"
                    )));
                }
                if rate == 0 {
                    return Err(bad("sample rate 0"));
                }
                let samples = bytes[body..end]
                    .chunks_exact(2)
                    .map(|b| i16::from_le_bytes([b[0], b[1]]))
                    .collect();
                return Ok(Speech {
                    sample_rate: rate,
                    samples,
                });
            }
            _ => {}
        }
        // Chunks are padded to even sizes.
        pos = body.saturating_add(size).saturating_add(size & 1);
    }
    Err(bad("no data chunk"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_deck_voice_fields_to_espeak_voices() {
        assert_eq!(espeak_voice(Some("en-US-AriaNeural"), None), "en-us");
        assert_eq!(espeak_voice(Some("en-GB-RyanNeural"), None), "en-gb");
        assert_eq!(
            espeak_voice(Some("de-DE-KatjaNeural"), Some("English")),
            "de"
        );
        assert_eq!(espeak_voice(Some("en-gb"), Some("German")), "en-gb");
        assert_eq!(espeak_voice(Some("en-us+f3"), None), "en-us+f3");
        assert_eq!(espeak_voice(None, Some("English")), "en-us");
        assert_eq!(espeak_voice(None, Some("British English")), "en-gb");
        assert_eq!(espeak_voice(None, Some("German")), "de");
        assert_eq!(espeak_voice(None, Some("French")), "fr");
        assert_eq!(espeak_voice(None, Some("Spanish")), "es");
        assert_eq!(espeak_voice(None, Some("fr-CA")), "fr");
        assert_eq!(espeak_voice(Some("Rachel"), Some("Klingon")), "en-us");
        assert_eq!(espeak_voice(None, None), DEFAULT_VOICE);
    }

    #[test]
    fn looks_add_their_voice_variant_unless_the_deck_names_an_espeak_voice() {
        let mut request = slidecast_core::ClipRequest {
            slide: 1,
            title: String::new(),
            provider: "local".into(),
            script: "Hi.".into(),
            avatar: "ava".into(),
            voice: None,
            voice_provider: None,
            language: Some("German".into()),
            avatar_background: slidecast_core::deck::Rgb::GREEN,
            canvas: (320, 180),
        };
        assert_eq!(voice_for_request(&request), "de+f3");
        request.voice = Some("en-US-JennyNeural".into());
        assert_eq!(voice_for_request(&request), "en-us+f3");
        request.voice = Some("en-gb".into());
        assert_eq!(voice_for_request(&request), "en-gb");
        request.voice = None;
        request.avatar = "default".into();
        assert_eq!(voice_for_request(&request), "de");
    }

    #[test]
    fn parses_a_streamed_wav_with_unknown_sizes() {
        let mut wav = Vec::new();
        wav.extend_from_slice(b"RIFF");
        wav.extend_from_slice(&u32::MAX.to_le_bytes());
        wav.extend_from_slice(b"WAVEfmt ");
        wav.extend_from_slice(&16u32.to_le_bytes());
        wav.extend_from_slice(&1u16.to_le_bytes());
        wav.extend_from_slice(&1u16.to_le_bytes());
        wav.extend_from_slice(&22050u32.to_le_bytes());
        wav.extend_from_slice(&44100u32.to_le_bytes());
        wav.extend_from_slice(&2u16.to_le_bytes());
        wav.extend_from_slice(&16u16.to_le_bytes());
        wav.extend_from_slice(b"data");
        wav.extend_from_slice(&0x7fff_ffffu32.to_le_bytes());
        for s in [1i16, -2, 300] {
            wav.extend_from_slice(&s.to_le_bytes());
        }
        let speech = parse_wav(&wav).unwrap();
        assert_eq!(speech.sample_rate, 22050);
        assert_eq!(speech.samples, vec![1, -2, 300]);
        assert!(parse_wav(b"not a wav file").is_err());
    }
}
