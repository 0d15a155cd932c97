//! The presenters a D-ID account can use for clips, as a typed list and as
//! the table `slidecast did presenters` prints.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

/// A presenter of clips.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Presenter {
    /// The `presenter_id` a deck writes in `presenter.avatar`.
    pub id: String,
    /// D-ID's name for it.
    pub name: String,
    /// `female`, `male`, ... when given.
    pub gender: Option<String>,
}

/// The presenters of a `clips/presenters` answer.
pub fn parse_presenters(answer: &Value) -> Vec<Presenter> {
    let text = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .filter(|s| !s.is_empty())
    };
    answer
        .get("presenters")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|p| {
                    Some(Presenter {
                        id: text(p, "presenter_id")?,
                        name: text(p, "name").unwrap_or_default(),
                        gender: text(p, "gender"),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A plain-text table of presenters.
pub struct PresenterTable<'a>(pub &'a [Presenter]);

impl fmt::Display for PresenterTable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<36}  {:<24}  gender", "presenter (deck code)", "name")?;
        for p in self.0 {
            writeln!(
                f,
                "{:<36}  {:<24}  {}",
                p.id,
                p.name,
                p.gender.as_deref().unwrap_or("-")
            )?;
        }
        Ok(())
    }
}
