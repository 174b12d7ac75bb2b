//! `--partition auto`: this machine's shard from the variables its CI (or test engine) sets,
//! and Bazel's acknowledgement that the runner shards.

use super::scheme::{Partition, Scheme};

/// One engine's variables: the shard's index, the number of shards, and whether the index
/// counts from 1.
struct Engine {
    name: &'static str,
    index: &'static str,
    total: &'static str,
    one_based: bool,
}

/// The engines we know, in the order they are looked for.
const ENGINES: [Engine; 9] = [
    Engine {
        name: "GitLab CI (parallel:)",
        index: "CI_NODE_INDEX",
        total: "CI_NODE_TOTAL",
        one_based: true,
    },
    Engine {
        name: "CircleCI",
        index: "CIRCLE_NODE_INDEX",
        total: "CIRCLE_NODE_TOTAL",
        one_based: false,
    },
    Engine {
        name: "Buildkite",
        index: "BUILDKITE_PARALLEL_JOB",
        total: "BUILDKITE_PARALLEL_JOB_COUNT",
        one_based: false,
    },
    Engine {
        name: "Semaphore",
        index: "SEMAPHORE_JOB_INDEX",
        total: "SEMAPHORE_JOB_COUNT",
        one_based: true,
    },
    Engine {
        name: "Azure Pipelines",
        index: "SYSTEM_JOBPOSITIONINPHASE",
        total: "SYSTEM_TOTALJOBSINPHASE",
        one_based: true,
    },
    Engine {
        name: "Bitbucket Pipelines",
        index: "BITBUCKET_PARALLEL_STEP",
        total: "BITBUCKET_PARALLEL_STEP_COUNT",
        one_based: false,
    },
    Engine {
        name: "AWS Batch array jobs",
        index: "AWS_BATCH_JOB_ARRAY_INDEX",
        total: "AWS_BATCH_JOB_ARRAY_SIZE",
        one_based: false,
    },
    // Kubernetes sets only the index of an Indexed Job; the Job's `.spec.completions` is
    // passed by the user under this name (see the README).
    Engine {
        name: "a Kubernetes Indexed Job",
        index: "JOB_COMPLETION_INDEX",
        total: "JOB_COMPLETIONS",
        one_based: false,
    },
    Engine {
        name: "Bazel",
        index: "TEST_SHARD_INDEX",
        total: "TEST_TOTAL_SHARDS",
        one_based: false,
    },
];

pub(super) fn from_ci_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Partition, String> {
    for engine in &ENGINES {
        let (index_var, total_var) = (engine.index, engine.total);
        let (index, total) = match (env(index_var), env(total_var)) {
            (Some(index), Some(total)) => (index, total),
            (Some(_), None) => {
                return Err(format!(
                    "--partition auto: {index_var} is set ({}) but {total_var} is not: set \
                     {total_var} to the number of shards",
                    engine.name
                ))
            }
            _ => continue,
        };
        let parse = |name: &str, value: &str| {
            value
                .trim()
                .parse::<usize>()
                .map_err(|_| format!("--partition auto: {name}={value} is not a whole number"))
        };
        let index = parse(index_var, &index)? + usize::from(!engine.one_based);
        let total = parse(total_var, &total)?;
        if total == 0 || index == 0 || index > total {
            return Err(format!(
                "--partition auto: {index_var}/{total_var} give shard {index} of {total}, which does not exist"
            ));
        }
        return Ok(Partition {
            scheme: Scheme::Hash,
            index,
            total,
        });
    }
    let known: Vec<String> = ENGINES
        .iter()
        .map(|e| format!("{}/{}", e.index, e.total))
        .collect();
    Err(format!(
        "--partition auto: no CI shard variables found ({}); give --partition hash:K/N instead",
        known.join(", ")
    ))
}

/// Bazel asks test runners that understand sharding to touch this file.
pub fn acknowledge_bazel_sharding() {
    if let Some(path) = std::env::var_os("TEST_SHARD_STATUS_FILE") {
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_reads_each_engine() {
        for engine in &ENGINES {
            // The second shard of three, in the engine's own counting.
            let value = if engine.one_based { "2" } else { "1" };
            let env = |name: &str| match name {
                n if n == engine.index => Some(value.to_string()),
                n if n == engine.total => Some("3".to_string()),
                _ => None,
            };
            let p = Partition::parse("auto", &env).unwrap();
            assert_eq!(
                (p.scheme, p.index, p.total),
                (Scheme::Hash, 2, 3),
                "{}",
                engine.name
            );
        }
    }

    #[test]
    fn an_index_without_its_total_names_the_missing_variable() {
        let env = |name: &str| (name == "JOB_COMPLETION_INDEX").then(|| "0".to_string());
        let err = Partition::parse("auto", &env).unwrap_err();
        assert!(
            err.contains("JOB_COMPLETIONS") && !err.contains('\n'),
            "{err}"
        );
    }
}
