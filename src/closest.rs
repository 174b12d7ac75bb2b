//! The one home of `strsim`: the name a likely typo was meant to be, for every "did you mean"
//! in runner's messages (filter predicates, package and binary names, setup scripts).

/// The candidate most like `name`, if any is close enough to be a likely typo.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score >= 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_names_a_likely_typo_only() {
        assert_eq!(closest("tset", ["test", "package"]), Some("test"));
        assert_eq!(closest("alpah", ["alpha", "beta"]), Some("alpha"));
        assert_eq!(closest("zzz", ["alpha", "beta"]), None);
    }
}
