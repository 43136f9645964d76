//! GridPatrol category search (hanzi, pinyin, initials, code prefix)
#![forbid(unsafe_code)]
