//! The `slidecast` binary: everything lives in the `slidecast_cli` library so
//! tests and completions can reach the argument definitions.

fn main() -> std::process::ExitCode {
    slidecast_cli::main()
}
