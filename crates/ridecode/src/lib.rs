//! The saoma ride code (work in progress).
