//! Command-line arguments (clap derive). Help texts carry examples.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit::EXIT_CODES_HELP;

const MAIN_EXAMPLES: &str = "\
Examples:
  slidecast init slides/                      # deck.toml from a folder of images (+ notes.md)
  slidecast import talk.pdf                   # or talk.pptx: images + speaker notes
  slidecast validate talk/deck.toml           # list every problem in a deck
  slidecast render talk/deck.toml -o talk.mp4 # render with the offline presenter
  slidecast plan talk/deck.toml --provider elai # vendor minutes before paying";

/// Turn a slide deck with a narration script per slide into one video with an
/// avatar presenter.
#[derive(Debug, Parser)]
#[command(
    name = "slidecast",
    version,
    about,
    after_help = format!("{MAIN_EXAMPLES}\n\n{EXIT_CODES_HELP}"),
)]
pub struct Cli {
    /// More log output (-v: info, -vv: debug, -vvv: trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render a deck to a video.
    #[command(after_help = format!("{RENDER_EXAMPLES}\n\n{EXIT_CODES_HELP}"))]
    Render(RenderArgs),
    /// Check a deck and list every problem (file, slide, field).
    #[command(after_help = format!("{VALIDATE_EXAMPLES}\n\n{EXIT_CODES_HELP}"))]
    Validate(ValidateArgs),
    /// Write a deck.toml for a folder of slide images (scripts from notes.md).
    #[command(after_help = format!("{INIT_EXAMPLES}\n\n{EXIT_CODES_HELP}"))]
    Init(InitArgs),
    /// Make a deck from a PDF or PowerPoint file.
    #[command(after_help = format!("{IMPORT_EXAMPLES}\n\n{EXIT_CODES_HELP}"))]
    Import(ImportArgs),
    /// What a render would do: per slide cached, in flight or to render, and the vendor minutes.
    #[command(after_help = format!("{PLAN_EXAMPLES}\n\n{EXIT_CODES_HELP}"))]
    Plan(PlanArgs),
    /// Inspect or prune the clip cache.
    #[command(
        subcommand,
        after_help = format!("Examples:\n  slidecast cache list\n  slidecast cache prune --older-than 30d\n\n{EXIT_CODES_HELP}")
    )]
    Cache(CacheCommand),
    /// Elai account look-ups (needs ELAI_API_KEY).
    #[command(
        subcommand,
        after_help = format!("Examples:\n  ELAI_API_KEY=... slidecast elai avatars\n  ELAI_API_KEY=... slidecast elai voices\n\n{EXIT_CODES_HELP}")
    )]
    Elai(ElaiCommand),
    /// HeyGen account look-ups (needs HEYGEN_API_KEY).
    #[command(
        subcommand,
        after_help = format!("Examples:\n  HEYGEN_API_KEY=... slidecast heygen avatars\n  HEYGEN_API_KEY=... slidecast heygen voices\n\n{EXIT_CODES_HELP}")
    )]
    Heygen(HeyGenCommand),
    /// D-ID account look-ups (needs DID_API_KEY).
    #[command(
        subcommand,
        after_help = format!("Examples:\n  DID_API_KEY=user:secret slidecast did presenters\n\n{EXIT_CODES_HELP}")
    )]
    Did(DidCommand),
    /// Print a shell completion script.
    #[command(after_help = format!("{COMPLETIONS_EXAMPLES}\n\n{EXIT_CODES_HELP}"))]
    Completions(CompletionsArgs),
    /// Run the HTTP service: decks submitted over HTTP, progress as events, a web page at /.
    #[cfg(feature = "serve")]
    #[command(after_help = format!("{SERVE_EXAMPLES}\n\n{EXIT_CODES_HELP}"))]
    Serve(ServeArgs),
}

#[cfg(feature = "serve")]
const SERVE_EXAMPLES: &str = "\
Examples:
  slidecast serve                       # http://127.0.0.1:8787/
  slidecast serve --data-dir /srv/slidecast --jobs 8
  slidecast serve --listen 0.0.0.0:8787 --api-tokens /etc/slidecast/tokens
  curl -F bundle=@talk.zip http://127.0.0.1:8787/v1/jobs

A fleet (any number of each role, one database and one bucket):
  SLIDECAST_DATABASE_URL=postgres://slidecast@db/slidecast AWS_ENDPOINT=... \
    slidecast serve --role api --blobs s3://renders/slidecast --listen 0.0.0.0:8787 --api-tokens FILE
  SLIDECAST_DATABASE_URL=... slidecast serve --role worker --blobs s3://renders/slidecast

The API is described in docs/service.md.";

#[cfg(feature = "serve")]
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Anything but loopback needs --api-tokens.
    #[arg(long, value_name = "ADDR", default_value = slidecast_service::DEFAULT_LISTEN)]
    pub listen: std::net::SocketAddr,
    /// Where jobs, outputs, the clip cache and the database live
    /// (default: $XDG_DATA_HOME/slidecast/service).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// CPU cores the running jobs share (default: every core).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Jobs rendered at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub concurrent_jobs: usize,
    /// File of API tokens, one per line (the token, or sha256:HEX of it).
    #[arg(long, value_name = "FILE")]
    pub api_tokens: Option<PathBuf>,
    /// File holding Elai's webhook secret (enables POST /v1/webhooks/elai).
    #[arg(long, value_name = "FILE")]
    pub elai_webhook_secret_file: Option<PathBuf>,
    /// Largest upload accepted, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 512)]
    pub max_upload_mib: usize,
    /// What this process does: all (API and worker), api, or worker.
    #[arg(long, value_name = "ROLE", default_value = "all")]
    pub role: RoleChoice,
    /// Database shared by a fleet: postgres://USER[:PASSWORD]@HOST/DB or
    /// sqlite://PATH (default: state.sqlite in the data folder). Prefer the
    /// environment variable or PGPASSWORD, so no password shows in `ps`.
    #[arg(
        long,
        value_name = "URL",
        env = "SLIDECAST_DATABASE_URL",
        hide_env_values = true
    )]
    pub database: Option<String>,
    /// Blob store shared by a fleet: s3://BUCKET[/PREFIX] (endpoint, region
    /// and keys from AWS_ENDPOINT, AWS_REGION, AWS_ACCESS_KEY_ID, ...) or a
    /// folder (default: blobs/ in the data folder).
    #[arg(long, value_name = "URL")]
    pub blobs: Option<String>,
    /// Seconds a worker holds a job without renewing it; a worker silent
    /// for longer is taken for dead and its jobs move to another.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub lease_secs: f64,
    #[command(flatten)]
    pub vendors: VendorArgs,
}

/// What a `slidecast serve` process does.
#[cfg(feature = "serve")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleChoice {
    /// The API and a worker (one machine).
    All,
    /// The API only: uploads, progress, downloads.
    Api,
    /// A worker only: runs jobs, listens on no port.
    Worker,
}

const RENDER_EXAMPLES: &str = "\
Examples:
  slidecast render deck.toml -o talk.mp4
  slidecast render deck.toml -o talk.mp4 --provider mock --timeline talk.svg
  ELAI_API_KEY=... slidecast render deck.toml -o talk.mp4 --provider elai
  slidecast render deck.toml -o talk.mp4 --progress json > events.jsonl

Besides OUT.mp4 every render writes OUT.srt and OUT.vtt (captions), and
OUT.chapters.vtt and OUT.chapters.txt (one chapter per slide, named by its
`title`).";

/// Which avatar provider renders the presenter clips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProviderChoice {
    /// Offline presenter: espeak-ng speech and a drawn avatar (no account).
    Local,
    /// Elai's avatar API (needs ELAI_API_KEY).
    Elai,
    /// HeyGen's avatar API (needs HEYGEN_API_KEY).
    Heygen,
    /// D-ID's talking photos and presenters (needs DID_API_KEY).
    Did,
    /// Generated test clips (picture + tone), instant; for trying the pipeline.
    Mock,
}

impl ProviderChoice {
    /// The provider name as written in deck files.
    pub fn name(self) -> &'static str {
        match self {
            ProviderChoice::Local => "local",
            ProviderChoice::Elai => "elai",
            ProviderChoice::Heygen => "heygen",
            ProviderChoice::Did => "did",
            ProviderChoice::Mock => "mock",
        }
    }
}

/// The scheduling policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScheduleChoice {
    /// Slide by slide: initiate, wait, fetch, prepare, compose.
    Sequential,
    /// Initiate all renders, then process slides in deck order.
    InOrder,
    /// Initiate all, prepare while rendering, compose as clips arrive.
    Eager,
}

impl From<ScheduleChoice> for slidecast_core::Schedule {
    fn from(s: ScheduleChoice) -> Self {
        match s {
            ScheduleChoice::Sequential => slidecast_core::Schedule::Sequential,
            ScheduleChoice::InOrder => slidecast_core::Schedule::InOrder,
            ScheduleChoice::Eager => slidecast_core::Schedule::Eager,
        }
    }
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressChoice {
    /// Bars on a terminal, plain lines otherwise.
    Auto,
    /// Live bars (overall + one line per slide).
    Bars,
    /// One log line per stage change, on stderr.
    Plain,
    /// One JSON event per line on stdout (see docs/progress-json.md).
    Json,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The deck file (deck.toml or deck.json).
    pub deck: PathBuf,
    /// The video to write (MP4).
    #[arg(short, long, value_name = "OUT.mp4")]
    pub output: PathBuf,
    /// Provider for every presenter slide (default: what the deck says).
    #[arg(long, value_enum)]
    pub provider: Option<ProviderChoice>,
    /// Scheduling policy (eager is the fast one; the others are for comparison).
    #[arg(long, value_enum, default_value = "eager")]
    pub schedule: ScheduleChoice,
    /// Prepare/compose tasks at once (default: number of CPUs).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,
    /// Cap on vendor renders in flight (below the provider's own limit).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_renders: Option<u32>,
    /// Where clips and segments are written (default: a temporary folder).
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// How progress is shown.
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: ProgressChoice,
    /// Also write the run's schedule as an SVG Gantt chart.
    #[arg(long, value_name = "FILE.svg")]
    pub timeline: Option<PathBuf>,
    /// Do not embed the captions as a subtitle track (OUT.srt and OUT.vtt
    /// are written either way).
    #[arg(long)]
    pub no_captions: bool,
    /// Also draw the captions into the picture (white on a dark box, low in
    /// the frame, clear of the presenter), for players that ignore subtitle
    /// tracks.
    #[arg(long)]
    pub burn_captions: bool,
    /// Burned-in caption text height, as a share of the frame height.
    #[arg(long, value_name = "SHARE", default_value_t = 0.045, requires = "burn_captions", value_parser = caption_size)]
    pub caption_size: f32,
    /// Font file for burned-in captions (default: DejaVu Sans Bold).
    #[arg(long, value_name = "FILE.ttf", requires = "burn_captions")]
    pub caption_font: Option<PathBuf>,
    /// On Ctrl-C, delete the renders already started at the vendor.
    #[arg(long)]
    pub cleanup_remote: bool,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Refuse to start if the render would be billed more vendor minutes
    /// (every vendor, each clip rounded up to its vendor's step).
    #[arg(long, value_name = "MINUTES")]
    pub max_minutes: Option<f64>,
    /// Refuse to start if one vendor would cost more, in its own unit
    /// (HeyGen and D-ID credits, Elai minutes); repeat per vendor.
    #[arg(long, value_name = "VENDOR=AMOUNT", value_parser = cost_limit)]
    pub max_cost: Vec<(String, f64)>,
    #[command(flatten)]
    pub vendors: VendorArgs,
}

/// Where finished clips and run journals are kept.
#[derive(Debug, Clone, Default, Args)]
pub struct StoreArgs {
    /// Clip cache (default: $XDG_CACHE_HOME/slidecast/clips).
    #[arg(long, value_name = "DIR", help_heading = "Cache and resume")]
    pub cache_dir: Option<PathBuf>,
    /// Neither use nor fill the clip cache.
    #[arg(long, help_heading = "Cache and resume")]
    pub no_cache: bool,
    /// Run journals, for resuming after a crash (default: .slidecast/ beside the output).
    #[arg(long, value_name = "DIR", help_heading = "Cache and resume")]
    pub state_dir: Option<PathBuf>,
}

/// How to reach the avatar vendors.
#[derive(Debug, Clone, Args)]
pub struct VendorArgs {
    /// Elai API root (default: Elai's public API; env ELAI_BASE_URL).
    #[arg(long, value_name = "URL", help_heading = "Vendors")]
    pub elai_url: Option<String>,
    /// File holding the Elai API key (default: env ELAI_API_KEY).
    #[arg(long, value_name = "FILE", help_heading = "Vendors")]
    pub elai_key_file: Option<PathBuf>,
    /// HeyGen API root (default: HeyGen's public API; env HEYGEN_BASE_URL).
    #[arg(long, value_name = "URL", help_heading = "Vendors")]
    pub heygen_url: Option<String>,
    /// File holding the HeyGen API key (default: env HEYGEN_API_KEY).
    #[arg(long, value_name = "FILE", help_heading = "Vendors")]
    pub heygen_key_file: Option<PathBuf>,
    /// D-ID API root (default: D-ID's public API; env DID_BASE_URL).
    #[arg(long, value_name = "URL", help_heading = "Vendors")]
    pub did_url: Option<String>,
    /// File holding the D-ID API key, `user:secret` (default: env DID_API_KEY).
    #[arg(long, value_name = "FILE", help_heading = "Vendors")]
    pub did_key_file: Option<PathBuf>,
}

impl VendorArgs {
    /// The flags given, as provider settings (`elai.url`, `heygen.key_file`, ...).
    pub fn settings(&self) -> Vec<(String, String)> {
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        [
            ("elai.url", self.elai_url.clone()),
            ("elai.key_file", path(&self.elai_key_file)),
            ("heygen.url", self.heygen_url.clone()),
            ("heygen.key_file", path(&self.heygen_key_file)),
            ("did.url", self.did_url.clone()),
            ("did.key_file", path(&self.did_key_file)),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name.to_string(), value?)))
        .collect()
    }
}

/// `heygen=40`: a vendor and a positive amount.
fn cost_limit(s: &str) -> Result<(String, f64), String> {
    let (vendor, amount) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: write VENDOR=AMOUNT, e.g. heygen=40"))?;
    let amount: f64 = amount
        .trim()
        .parse()
        .map_err(|_| format!("`{s}`: `{amount}` is not a number"))?;
    if !(amount.is_finite() && amount >= 0.0) {
        return Err(format!("`{s}`: the amount must be zero or more"));
    }
    Ok((vendor.trim().to_string(), amount))
}

const PLAN_EXAMPLES: &str = "\
Examples:
  slidecast plan deck.toml                      # what `render -o deck.mp4` would do
  slidecast plan deck.toml -o talk.mp4 --provider elai --max-minutes 20
  slidecast plan deck.toml --max-cost heygen=40 --max-cost did=60

Speech is estimated at 130 words a minute (a measured vendor voice). Each clip is billed on its
own, rounded up to its vendor's step: Elai whole minutes, HeyGen a credit per started 30 s, D-ID a
credit per started 15 s; local and mock renders cost nothing.";

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The deck file.
    pub deck: PathBuf,
    /// The output the render would write (its journal is consulted);
    /// default: the deck's name with .mp4.
    #[arg(short, long, value_name = "OUT.mp4")]
    pub output: Option<PathBuf>,
    #[arg(long, value_enum)]
    pub provider: Option<ProviderChoice>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Exit with 1 if the render would be billed more vendor minutes.
    #[arg(long, value_name = "MINUTES")]
    pub max_minutes: Option<f64>,
    /// Exit with 1 if one vendor would cost more, in its own unit; repeat
    /// per vendor.
    #[arg(long, value_name = "VENDOR=AMOUNT", value_parser = cost_limit)]
    pub max_cost: Vec<(String, f64)>,
    #[command(flatten)]
    pub vendors: VendorArgs,
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// List cached clips (key, provider, size, age).
    List {
        #[arg(long, value_name = "DIR")]
        cache_dir: Option<PathBuf>,
    },
    /// Delete clips not used for a while.
    Prune {
        /// Age such as 30d, 12h, 2weeks.
        #[arg(long, value_name = "DURATION")]
        older_than: String,
        #[arg(long, value_name = "DIR")]
        cache_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ElaiCommand {
    /// Avatars the account can use (codes for the deck's `avatar`).
    Avatars {
        #[command(flatten)]
        vendors: VendorArgs,
    },
    /// Voices (for the deck's `voice` and `voice_provider`).
    Voices {
        #[command(flatten)]
        vendors: VendorArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum HeyGenCommand {
    /// Avatars and talking photos (codes for the deck's `avatar`; a talking photo is `photo:<id>`).
    Avatars {
        #[command(flatten)]
        vendors: VendorArgs,
    },
    /// Voices (ids for the deck's `voice`).
    Voices {
        #[command(flatten)]
        vendors: VendorArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum DidCommand {
    /// Presenters of clips (ids for the deck's `avatar`; a photo URL makes a talk instead).
    Presenters {
        #[command(flatten)]
        vendors: VendorArgs,
    },
}

const VALIDATE_EXAMPLES: &str = "\
Examples:
  slidecast validate deck.toml
  slidecast validate deck.json && slidecast render deck.json -o out.mp4
  ELAI_API_KEY=... slidecast validate deck.toml --online --provider elai

Every slide picture is opened. --online also asks the vendors what they
would refuse (avatar and voice codes, speech limits), creating nothing.";

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The deck file (deck.toml or deck.json).
    pub deck: PathBuf,
    /// Also ask the deck's vendors what they would refuse (avatar, voice,
    /// speech limits), creating nothing.
    #[arg(long)]
    pub online: bool,
    /// Provider for every presenter slide (default: what the deck says).
    #[arg(long, value_enum)]
    pub provider: Option<ProviderChoice>,
    #[command(flatten)]
    pub vendors: VendorArgs,
}

const INIT_EXAMPLES: &str = "\
Examples:
  slidecast init slides/            # writes slides/deck.toml
  slidecast init slides/ --force    # overwrite an existing deck.toml

Images (png, jpg, jpeg, webp, bmp) are taken in natural order: 2 before 10.
If the folder has a notes.md, each `## ` section is the script of the next
slide, in order; text under a leading `# ` heading becomes the title.";

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Folder of slide images.
    pub folder: PathBuf,
    /// Notes file (default: FOLDER/notes.md if it exists).
    #[arg(long, value_name = "FILE")]
    pub notes: Option<PathBuf>,
    /// Overwrite an existing deck.toml.
    #[arg(long)]
    pub force: bool,
}

const IMPORT_EXAMPLES: &str = "\
Examples:
  slidecast import talk.pdf                 # writes talk/deck.toml and talk/slides/*.png
  slidecast import talk.pdf --notes notes.md
  slidecast import talk.pptx -o talk-deck   # speaker notes become the scripts

PDF pages are rendered with pdftoppm (apt-get install poppler-utils).
PPTX slide images need LibreOffice (apt-get install libreoffice-impress);
without it the deck is written and you are told where to put the images.";

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A .pdf or .pptx file.
    pub file: PathBuf,
    /// Folder to create (default: beside the file, named after it).
    #[arg(short, long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Scripts from a notes.md (one `## ` section per slide).
    #[arg(long, value_name = "FILE")]
    pub notes: Option<PathBuf>,
    /// Pixel width of the rendered slide images.
    #[arg(long, default_value_t = 1920, value_name = "PX")]
    pub width: u32,
    /// Overwrite an existing deck.toml in the output folder.
    #[arg(long)]
    pub force: bool,
}

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  slidecast completions bash > /etc/bash_completion.d/slidecast
  slidecast completions zsh > \"${fpath[1]}/_slidecast\"
  slidecast completions fish > ~/.config/fish/completions/slidecast.fish";

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// A caption height share: 0.02 (small) to 0.1 (very large).
fn caption_size(value: &str) -> Result<f32, String> {
    let v: f32 = value.parse().map_err(|_| {
        format!("`{value}` is not a number; give a share of the frame height such as 0.045")
    })?;
    if (0.02..=0.1).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is outside 0.02 to 0.1 of the frame height"))
    }
}
