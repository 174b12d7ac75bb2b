//! `--partition` and `--timings` resolved together: which shard, by which scheme, and the
//! timings file a `time:` scheme reads.

use std::path::Path;

use super::settings::UsageError;
use crate::plan::partition::{Partition, Scheme, Timings};

/// The partition of a run and its timings file, checked: `--timings` belongs to a `time:`
/// partition (and makes `auto` one), and must be a timings file.
pub(super) fn resolve(
    spec: Option<&str>,
    timings: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Option<Partition>, Option<Timings>), UsageError> {
    let partition = spec
        .map(|spec| Partition::parse(spec, env))
        .transpose()
        .map_err(UsageError)?;
    let Some(path) = timings else {
        return Ok((partition, None));
    };
    let Some(mut partition) = partition else {
        return Err(UsageError(
            "'--timings' gives the durations a time: partition balances on: add --partition \
             time:K/N (or auto)"
                .into(),
        ));
    };
    match (spec, partition.scheme) {
        (Some("auto"), _) => partition.scheme = Scheme::Time,
        (_, Scheme::Time) => {}
        (_, scheme) => {
            let name = Partition {
                scheme,
                ..partition
            }
            .scheme_name();
            return Err(UsageError(format!(
                "'--timings' is read only by the time: scheme, and --partition gives {name}: \
                 use --partition time:{}/{}, or drop --timings",
                partition.index, partition.total
            )));
        }
    }
    let timings = Timings::load(path).map_err(|e| UsageError(format!("{e:#}")))?;
    Ok((Some(partition), Some(timings)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timings_belong_to_a_time_partition() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        Timings::default().save(&path).unwrap();
        let none = |_: &str| None;
        let err = resolve(None, Some(&path), &none).unwrap_err();
        assert!(err.0.contains("--partition time:K/N"), "{}", err.0);
        let err = resolve(Some("hash:1/2"), Some(&path), &none).unwrap_err();
        assert!(err.0.contains("time:1/2"), "{}", err.0);
        let (partition, timings) = resolve(Some("time:2/2"), Some(&path), &none).unwrap();
        assert_eq!(partition.unwrap().index, 2);
        assert_eq!(timings, Some(Timings::default()));
        let ci = |name: &str| match name {
            "CI_NODE_INDEX" => Some("1".to_string()),
            "CI_NODE_TOTAL" => Some("2".to_string()),
            _ => None,
        };
        let (partition, _) = resolve(Some("auto"), Some(&path), &ci).unwrap();
        assert_eq!(partition.unwrap().scheme, Scheme::Time);
        let missing = dir.path().join("missing.json");
        let err = resolve(Some("time:1/2"), Some(&missing), &none).unwrap_err();
        assert!(
            err.0.contains("missing.json") && !err.0.contains('\n'),
            "{}",
            err.0
        );
    }
}
