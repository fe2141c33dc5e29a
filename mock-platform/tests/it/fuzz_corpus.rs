//! Replays the committed fuzz corpora of the gateway and the admin API (`fuzz/corpus/TARGET/`) through the
//! bodies the fuzz targets run.

use testkit::replay_fuzz_corpus;

#[test]
fn the_gateway_corpus_replays_without_a_failure() {
    replay_fuzz_corpus("gateway", mock_platform::fuzzing::gateway);
}

#[test]
fn the_admin_corpus_replays_without_a_failure() {
    replay_fuzz_corpus("admin", mock_platform::fuzzing::admin);
}
