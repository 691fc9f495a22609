//! Harness for the whole-system tests.
