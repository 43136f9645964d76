//! Sanity checks on the public relevance set `data/search-relevance.tsv`
//! (issue 10): enough queries, no duplicates, and every acceptable code is
//! a fine class of the builtin taxonomy.

use std::collections::HashSet;

use gridpatrol_domain::taxonomy::{Level, Taxonomy};

const SET: &str = include_str!("../../../data/search-relevance.tsv");

#[test]
fn relevance_set_is_well_formed() {
    let t = Taxonomy::builtin();
    let mut lines = SET.lines();
    assert_eq!(lines.next(), Some("query\tacceptable\tnote"), "header");
    let mut seen = HashSet::new();
    let mut n = 0;
    for (i, line) in lines.enumerate() {
        let row = i + 2;
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert!(
            cols.len() == 2 || cols.len() == 3,
            "line {row}: expected 2 or 3 tab-separated columns: {line:?}"
        );
        let query = cols[0];
        assert!(!query.trim().is_empty(), "line {row}: empty query");
        assert_eq!(query, query.trim(), "line {row}: query has stray spaces");
        assert!(seen.insert(query), "line {row}: duplicate query {query:?}");
        let codes: Vec<&str> = cols[1].split_whitespace().collect();
        assert!(
            !codes.is_empty(),
            "line {row}: no acceptable code for {query:?}"
        );
        for code in codes {
            let node = t
                .get(code)
                .unwrap_or_else(|| panic!("line {row}: unknown code {code} for {query:?}"));
            assert_eq!(code.len(), 8, "line {row}: {code} is not an 8-digit code");
            assert_eq!(
                node.level,
                Level::Fine,
                "line {row}: {code} for {query:?} is not a fine class"
            );
        }
        n += 1;
    }
    assert!(n >= 150, "only {n} queries, want at least 150");
}
