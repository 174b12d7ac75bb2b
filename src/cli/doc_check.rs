//! What `--doc` and `--doc-only` cannot be combined with: prebuilt binaries (doctests are
//! compiled and run by cargo and rustdoc), and, for `--doc-only`, cargo's target selection
//! (`--lib`, `--bins`, `--test NAME`...), which chooses test binaries that would not run.

use std::path::PathBuf;

use super::settings::{CargoOptions, DocTests, UsageError};

/// Cargo's flags that choose test targets rather than packages.
const TARGET_FLAGS: [&str; 5] = ["--lib", "--bins", "--bin", "--tests", "--test"];

pub(super) fn check(binaries: &[PathBuf], cargo: &CargoOptions) -> Result<(), UsageError> {
    let flag = match cargo.doc {
        DocTests::Off => return Ok(()),
        DocTests::Also => "--doc",
        DocTests::Only => "--doc-only",
    };
    if !binaries.is_empty() {
        return Err(UsageError(format!(
            "'{flag}' runs doctests through cargo and cannot be used with '--binary': drop one of them"
        )));
    }
    let target = cargo
        .selection
        .iter()
        .find(|arg| TARGET_FLAGS.contains(&arg.as_str()));
    match (cargo.doc, target) {
        (DocTests::Only, Some(target)) => Err(UsageError(format!(
            "'--doc-only' runs no test binary, so '{target}' chooses nothing: use '--doc' to run \
             that target's tests and the doctests, or drop '{target}'"
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cargo(doc: DocTests, selection: &[&str]) -> CargoOptions {
        CargoOptions {
            doc,
            selection: selection.iter().map(|s| s.to_string()).collect(),
            ..CargoOptions::default()
        }
    }

    #[test]
    fn doc_flags_and_what_they_exclude() {
        assert!(check(&[], &cargo(DocTests::Also, &["--lib", "-p", "a"])).is_ok());
        assert!(check(&[], &cargo(DocTests::Only, &["--package", "a"])).is_ok());
        let err = check(&[], &cargo(DocTests::Only, &["--test", "it"])).unwrap_err();
        assert!(
            err.0.contains("'--test'") && !err.0.contains('\n'),
            "{}",
            err.0
        );
        let err = check(&["/bin/true".into()], &cargo(DocTests::Also, &[])).unwrap_err();
        assert!(err.0.contains("--binary"), "{}", err.0);
        assert!(check(&["/bin/true".into()], &cargo(DocTests::Off, &[])).is_ok());
    }
}
