//! Choosing some of a package's doctests for one rustdoc run.
//!
//! rustdoc cuts every test argument at whitespace (rust-lang/rust#39789) and every doctest name
//! holds spaces, so no argument can name a doctest: `--exact 'src/lib.rs - add (line 12)'`
//! becomes five exact filters that match nothing, and `cargo test --doc` runs no test and
//! passes. What reaches libtest whole is a word without whitespace. libtest runs a test when its
//! name contains any filter (or there is none) and no `--skip` word, so a subset is asked for
//! with one word of each wanted name, and `--skip` words found only in names not wanted. A name
//! not wanted that holds the filter word of a wanted name, and whose every word is part of a
//! wanted name, cannot be left out: it runs too, and its result is not reported (real doctest
//! names almost never come to this: their line numbers tell them apart). [`Subset::runs`] says
//! exactly which tests run, so that the reader knows the run.

/// The libtest arguments that choose a subset, and what they run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Subset {
    /// Filter words and `--skip=WORD` arguments.
    pub args: Vec<String>,
    /// Every listed test these arguments run, wanted or not, in name order.
    pub runs: Vec<String>,
}

/// The words of a name that can be given to libtest: no whitespace, and not taken for an
/// option.
fn words(name: &str) -> impl Iterator<Item = &str> {
    name.split_whitespace()
        .filter(|word| !word.starts_with('-'))
}

/// Arguments that run every name of `wanted` (a subset of `listed`) and as few others as
/// words allow.
pub(crate) fn subset(listed: &[String], wanted: &[String]) -> Subset {
    let wanted_set: std::collections::HashSet<&str> = wanted.iter().map(String::as_str).collect();
    let mut sorted: Vec<String> = listed.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.iter().all(|name| wanted_set.contains(name.as_str())) {
        return Subset {
            args: Vec::new(),
            runs: sorted,
        };
    }
    // The least common word of each wanted name.
    let frequency = |word: &str| sorted.iter().filter(|name| name.contains(word)).count();
    let mut filters: Vec<&str> = wanted
        .iter()
        .filter_map(|name| words(name).min_by_key(|word| frequency(word)))
        .collect();
    filters.sort_unstable();
    filters.dedup();
    let filtered = |name: &str| filters.iter().any(|word| name.contains(word));
    // For each unwanted name the filters let through, a word of it no wanted name contains,
    // chosen to leave out as many of the others as it can.
    let mut unwanted: Vec<&str> = sorted
        .iter()
        .map(String::as_str)
        .filter(|name| !wanted_set.contains(name) && filtered(name))
        .collect();
    let in_wanted = |word: &str| wanted.iter().any(|name| name.contains(word));
    let mut skips: Vec<&str> = Vec::new();
    while let Some(&name) = unwanted.first() {
        let reach = |word: &str| unwanted.iter().filter(|n| n.contains(word)).count();
        match words(name)
            .filter(|word| !in_wanted(word))
            .max_by_key(|word| reach(word))
        {
            Some(word) => {
                skips.push(word);
                unwanted.retain(|n| !n.contains(word));
            }
            None => {
                unwanted.remove(0);
            }
        }
    }
    let runs = sorted
        .iter()
        .filter(|name| filtered(name) && !skips.iter().any(|word| name.contains(word)))
        .cloned()
        .collect();
    let mut args: Vec<String> = filters.iter().map(|word| word.to_string()).collect();
    args.extend(skips.iter().map(|word| format!("--skip={word}")));
    Subset { args, runs }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// What libtest runs with these arguments, as it matches them.
    fn libtest_runs(listed: &[String], args: &[String]) -> Vec<String> {
        let (skips, filters): (Vec<&String>, Vec<&String>) =
            args.iter().partition(|a| a.starts_with("--skip="));
        let skips: Vec<&str> = skips.iter().map(|s| &s["--skip=".len()..]).collect();
        let mut runs: Vec<String> = listed
            .iter()
            .filter(|name| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
            .filter(|name| !skips.iter().any(|s| name.contains(s)))
            .cloned()
            .collect();
        runs.sort();
        runs
    }

    const LISTED: [&str; 7] = [
        "src/lib.rs - (line 3)",
        "src/lib.rs - add (line 9)",
        "src/lib.rs - add (line 19)",
        "src/lib.rs - adder (line 30)",
        "src/lib.rs - S::m (line 41)",
        "src/lib.rs - sub (line 52)",
        "src/other.rs - sub (line 9)",
    ];

    #[test]
    fn everything_wanted_needs_no_argument() {
        let listed = names(&LISTED);
        let all = subset(&listed, &listed);
        assert!(all.args.is_empty());
        assert_eq!(all.runs.len(), LISTED.len());
    }

    #[test]
    fn one_name_runs_alone_when_words_allow() {
        let listed = names(&LISTED);
        for wanted in ["src/lib.rs - add (line 9)", "src/lib.rs - sub (line 52)"] {
            let chosen = subset(&listed, &names(&[wanted]));
            assert_eq!(chosen.runs, [wanted], "{chosen:?}");
            assert_eq!(libtest_runs(&listed, &chosen.args), chosen.runs);
            assert!(chosen.args.iter().all(|a| !a.contains(' ')));
        }
    }

    #[test]
    fn a_name_made_of_a_wanted_names_words_runs_too() {
        // Each name's every word is part of the other: no word tells them apart.
        let listed = names(&["q - a b (line 1)", "q - b a (line 1)", "q - c (line 2)"]);
        let chosen = subset(&listed, &names(&["q - a b (line 1)"]));
        assert_eq!(chosen.runs, ["q - a b (line 1)", "q - b a (line 1)"]);
        assert_eq!(libtest_runs(&listed, &chosen.args), chosen.runs);
        // A line number is such a word: `9)` is part of `19)`, but `19)` tells them apart.
        let listed = names(&LISTED);
        let chosen = subset(&listed, &names(&["src/lib.rs - add (line 19)"]));
        assert_eq!(chosen.runs, ["src/lib.rs - add (line 19)"]);
    }

    #[test]
    fn any_subset_runs_at_least_what_is_wanted_and_exactly_what_it_says() {
        let listed = names(&LISTED);
        for mask in 1u32..(1 << LISTED.len()) {
            let wanted: Vec<String> = (0..LISTED.len())
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| LISTED[i].to_string())
                .collect();
            let chosen = subset(&listed, &wanted);
            assert!(wanted.iter().all(|w| chosen.runs.contains(w)), "{mask}");
            assert_eq!(libtest_runs(&listed, &chosen.args), chosen.runs, "{mask}");
        }
    }
}
