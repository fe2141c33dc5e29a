//! Replays the committed fuzz corpora (`fuzz/corpus/TARGET/`) through the bodies the fuzz targets run.

use testkit::replay_fuzz_corpus;

#[test]
fn the_params_corpus_replays_without_a_failure() {
    replay_fuzz_corpus("params", protocol::fuzzing::params);
}

#[test]
fn the_notification_corpus_replays_without_a_failure() {
    replay_fuzz_corpus("notification", protocol::fuzzing::notification);
}

#[test]
fn the_ack_corpus_replays_without_a_failure() {
    replay_fuzz_corpus("ack", protocol::fuzzing::ack);
}

#[test]
fn the_top_request_corpus_replays_without_a_failure() {
    replay_fuzz_corpus("top_request", protocol::fuzzing::top_request);
}
