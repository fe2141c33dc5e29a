//! Replays the committed fuzz corpora of the files the CLI reads (`fuzz/corpus/TARGET/`) through the bodies the
//! fuzz targets run.

use testkit::replay_fuzz_corpus;

#[test]
fn the_scenario_corpus_replays_without_a_failure() {
    replay_fuzz_corpus("scenario", conformance::fuzzing::scenario);
}

#[test]
fn the_case_file_corpus_replays_without_a_failure() {
    replay_fuzz_corpus("case_file", conformance::fuzzing::case_file);
}
