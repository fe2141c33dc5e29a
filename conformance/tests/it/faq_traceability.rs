//! The founding document stays covered: every item of the platform's merchant FAQ
//! (`../shared/reference/merchant-faq-v1.5.txt`) has its row in `docs/FAQ-TRACEABILITY.md`, and the table names no
//! item the FAQ does not have.

use std::collections::BTreeSet;
use std::path::Path;

/// `N.M` item numbers at the start of a line (the FAQ's table of contents and its headings, with or without a space
/// before the title).
fn faq_items(text: &str) -> BTreeSet<String> {
    text.lines().filter_map(|line| item_number(line.trim_start())).collect()
}

/// The leading `N.M` of `text`: digits, a dot, digits.
fn item_number(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let digits = |from: usize| bytes[from..].iter().take_while(|b| b.is_ascii_digit()).count();
    let major = digits(0);
    if major == 0 || bytes.get(major) != Some(&b'.') {
        return None;
    }
    let minor = digits(major + 1);
    (minor > 0).then(|| text[..major + 1 + minor].to_owned())
}

/// The first column of every table row of the traceability document.
fn traced_items(table: &str) -> BTreeSet<String> {
    table
        .lines()
        .filter_map(|line| line.strip_prefix('|')?.split('|').next())
        .filter_map(|cell| item_number(cell.trim()))
        .collect()
}

#[test]
fn every_faq_item_has_a_row_in_the_traceability_table_and_no_row_is_invented() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let faq_path = root.join("../shared/reference/merchant-faq-v1.5.txt");
    let faq = std::fs::read_to_string(&faq_path).unwrap_or_else(|e| {
        panic!("the FAQ is missing at {} ({e}): check out `shared/` beside the workspace clone", faq_path.display())
    });
    let table = std::fs::read_to_string(root.join("docs/FAQ-TRACEABILITY.md")).unwrap();
    let asked = faq_items(&faq);
    let traced = traced_items(&table);
    assert!(asked.len() >= 38, "the FAQ's items were not read: {asked:?}");
    let untraced: Vec<_> = asked.difference(&traced).collect();
    assert!(untraced.is_empty(), "FAQ items without a row in docs/FAQ-TRACEABILITY.md: {untraced:?}");
    let invented: Vec<_> = traced.difference(&asked).collect();
    assert!(invented.is_empty(), "rows for items the FAQ does not have: {invented:?}");
}

#[test]
fn item_numbers_are_read_from_headings_with_or_without_a_space() {
    assert_eq!(item_number("2.5如何取得 SessionKey?"), Some("2.5".to_owned()));
    assert_eq!(item_number("2.32 怎么判断"), Some("2.32".to_owned()));
    assert_eq!(item_number("1.1 资质审核.....\t4"), Some("1.1".to_owned()));
    assert_eq!(item_number("3 steps"), None);
    assert_eq!(item_number("V1.5"), None);
    assert_eq!(item_number("5000 次/天"), None);
}
