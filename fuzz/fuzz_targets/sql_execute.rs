#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rustlite_fuzz::sql_execute(data));
