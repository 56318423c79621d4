//! Administrative divisions (GB/T 2260): facts shared by node codes, ID numbers and policies.

/// GB/T 2260 province-level prefixes (the first two digits of every division code).
pub const PROVINCE_PREFIXES: [u8; 34] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
    53, 54, 61, 62, 63, 64, 65, 71, 81, 82,
];
