//! Unit tests of the service decisions (pure, on fabricated snapshots).
