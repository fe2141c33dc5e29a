//! Load command placeholder; see the next commit.

fn main() {}
