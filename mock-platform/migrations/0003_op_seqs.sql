-- Consumes and reverses are stamped (ms, seq) so that events of one millisecond keep the order they happened in
-- (oplogs.get sorts by both). In process the seq is a counter under the store's lock; replicas share this sequence.
CREATE SEQUENCE op_seqs;
