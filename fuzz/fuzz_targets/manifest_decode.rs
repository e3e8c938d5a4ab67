#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rustlite_fuzz::manifest_decode(data));
