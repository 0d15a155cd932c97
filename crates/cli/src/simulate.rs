//! `slidecast simulate`: the real scheduler on the mock provider and composer
//! under a virtual clock, for all three schedules at once.

use crate::args::SimulateArgs;
use crate::exit::CliError;

/// Vendor render time per slide, as given to `--render`.
#[derive(Debug, Clone, PartialEq)]
pub enum RenderSpec {
    /// Every slide the same.
    Fixed(f64),
    /// One value per slide, repeated when the deck is longer.
    List(Vec<f64>),
    /// Uniform in `min..=max`, drawn with `--seed`.
    Range(f64, f64),
}

impl std::str::FromStr for RenderSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let num = |t: &str| -> Result<f64, String> {
            let v: f64 = t.trim().parse().map_err(|_| {
                format!("--render: `{t}` is not a number of seconds; write 60, 50,60,70 or 40..90")
            })?;
            if v.is_finite() && v >= 0.0 {
                Ok(v)
            } else {
                Err(format!("--render: `{t}` must be zero or more seconds"))
            }
        };
        if let Some((a, b)) = s.split_once("..") {
            let (a, b) = (num(a)?, num(b.trim_start_matches('='))?);
            if a > b {
                return Err(format!("--render: the range {s} is empty; write MIN..MAX"));
            }
            Ok(RenderSpec::Range(a, b))
        } else if s.contains(',') {
            Ok(RenderSpec::List(
                s.split(',').map(num).collect::<Result<_, _>>()?,
            ))
        } else {
            Ok(RenderSpec::Fixed(num(s)?))
        }
    }
}

fn check_seconds(name: &str, v: f64) -> Result<(), CliError> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(CliError::Usage(format!(
            "--{name}: {v} is not a duration; give zero or more seconds"
        )))
    }
}

/// Run `slidecast simulate`.
pub fn run(args: &SimulateArgs) -> Result<(), CliError> {
    let _spec: RenderSpec = args.render.parse().map_err(CliError::Usage)?;
    for (name, v) in [
        ("init", args.init),
        ("prep", args.prep),
        ("compose", args.compose),
    ] {
        check_seconds(name, v)?;
    }
    Err(CliError::Run {
        message: "simulate is not wired yet (waiting for slidecast_core::simulate)".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_render_specs() {
        assert_eq!("60".parse(), Ok(RenderSpec::Fixed(60.0)));
        assert_eq!(
            "50, 60,70".parse(),
            Ok(RenderSpec::List(vec![50.0, 60.0, 70.0]))
        );
        assert_eq!("40..90".parse(), Ok(RenderSpec::Range(40.0, 90.0)));
        assert!("90..40".parse::<RenderSpec>().is_err());
        assert!("x".parse::<RenderSpec>().is_err());
        assert!("-1".parse::<RenderSpec>().is_err());
    }
}
