//! Authentication: the token store (auth methods come later).

pub mod token;
