//! Integration tests of the mock platform over real sockets.
